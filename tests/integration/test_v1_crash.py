"""kill -9 under load, five times: every message that got a 202 is delivered after the
restarts (counted by Message-Id at a real smtp-sink), and a message arrives twice only
when its delivery may have been in flight at a kill."""

import http.client
import json
import random
import signal
import threading
import time
import unittest

from harness import HOSTNAME, HainekoTestCase
from peers import SmtpSink, wait_for

KILLS = 5
CLIENTS = 4
MAX_CONCURRENCY = 16


class CrashUnderLoad(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = cls.class_peer(SmtpSink())
        cls.server = cls.make_server(start=False, etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME},
                           "queue": {"min_backoff": 1, "max_backoff": 2, "max_concurrency": MAX_CONCURRENCY}},
            "mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.sink.port,
                                        "timeout": 5}}})

    def setUp(self):
        self.lock = threading.Lock()
        self.accepted = {}  # id -> Message-Id, for every 202
        self.stop_clients = threading.Event()

    def client(self, n):
        conn, port, i = None, None, 0
        while not self.stop_clients.is_set():
            i += 1
            try:
                if conn is None or port != self.server.port:
                    port = self.server.port
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                body = json.dumps({"from": "kijitora@example.jp", "to": "neko%d@example.jp" % n,
                                   "subject": "crash %d-%d" % (n, i), "text": "body %d-%d\n" % (n, i)})
                conn.request("POST", "/v1/messages", body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status == 202:
                    answer = json.loads(data)
                    with self.lock:
                        self.accepted[answer["id"]] = answer["message_id"]
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None  # the server died under us: nothing was promised
                time.sleep(0.05)

    def kill_and_restart(self):
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()
        self.server._stderr_file.close()
        self.server.start()

    def delivered_ids(self):
        counts = {}
        for m in self.sink.messages():
            mid = m.msg["Message-Id"]
            counts[mid] = counts.get(mid, 0) + 1
        return counts

    def test_every_accepted_message_arrives_after_kill_9(self):
        self.server.start()
        self.addCleanup(self._stop_checked, self.server)  # the last one started, at the end
        threads = [threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        rng = random.Random(9)
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.2))
            self.kill_and_restart()
        time.sleep(0.5)
        self.stop_clients.set()
        for t in threads:
            t.join(10)
        accepted = dict(self.accepted)
        self.assertGreater(len(accepted), 50, "too little load to mean anything")
        wanted = set(accepted.values())
        wait_for(lambda: wanted <= set(self.delivered_ids()), 60, 0.5)
        counts = self.delivered_ids()
        missing = wanted - set(counts)
        self.assertEqual(missing, set(), "accepted (202) but never delivered: %d of %d" % (len(missing), len(wanted)))
        # A request in flight at a kill may have been committed without its 202 reaching the
        # client: delivered, though the client saw only a broken connection. At most one
        # per client and kill.
        self.assertLessEqual(len(set(counts) - wanted - {None}), KILLS * CLIENTS)
        duplicates = sum(c - 1 for c in counts.values())
        # Only a delivery in flight at a kill may go twice: at most max_concurrency per kill.
        self.assertLessEqual(duplicates, KILLS * MAX_CONCURRENCY, counts)
        for mid in list(accepted)[:20]:
            resp = self.server.request("GET", "/v1/messages/" + mid)
            self.assertEqual(resp.json["status"], "delivered", resp.json)


if __name__ == "__main__":
    unittest.main()
