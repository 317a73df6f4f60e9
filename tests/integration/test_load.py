"""1,000 submissions from 50 concurrent keep-alive clients; every message lands once,
in its own file, with its own subject and recipient."""

import email
import email.parser
import email.policy
import json
import threading
import time
import unittest

from harness import HOSTNAME, HainekoTestCase

CLIENTS = 50
PER_CLIENT = 20
TOTAL = CLIENTS * PER_CLIENT


class Load(HainekoTestCase):
    etc = {
        "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_workers": 4}},
        "recipients": {"open-relay": 0, "domainpart": ["load.example.jp"]},
    }

    def test_thousand_submissions(self):
        results = {}
        errors = []
        lock = threading.Lock()
        barrier = threading.Barrier(CLIENTS)

        def client(c):
            conn = self.server.connection(timeout=60)
            try:
                barrier.wait(30)
                for k in range(PER_CLIENT):
                    n = c * PER_CLIENT + k
                    payload = {
                        "ehlo": "client%02d.example.net" % c,
                        "mail": "sender%02d@example.org" % c,
                        "rcpt": ["user%04d@load.example.jp" % n],
                        "header": {"from": "Client %02d <sender%02d@example.org>" % (c, c),
                                   "subject": "load test message %04d ねこ" % n},
                        "body": "body of message %04d\n" % n,
                    }
                    resp = self.server.request("POST", "/submit", body=json.dumps(payload), conn=conn,
                                               headers={"Content-Type": "application/json"})
                    with lock:
                        results[n] = resp
            except Exception as e:  # reported below
                with lock:
                    errors.append("client %d: %r" % (c, e))
            finally:
                conn.close()

        start = time.monotonic()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - start
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads), "clients still running after 120 s")
        self.assertEqual(len(results), TOTAL)

        # every answer: 200, its own queueid, its own recipient
        bad = {n: r for n, r in results.items() if r.status != 200}
        self.assertEqual(bad, {}, "non-200 answers: %r" % list(bad.items())[:3])
        queueids = {}
        for n, r in results.items():
            j = r.json
            self.assertEqual(j["recipient"], ["user%04d@load.example.jp" % n])
            self.assertEqual(len(j["response"]), 1)
            self.assertEqual(j["response"][0]["error"], 0, j)
            queueids[j["queueid"]] = n
        self.assertEqual(len(queueids), TOTAL, "queue ids are not unique")
        for c in range(CLIENTS):  # keep-alive: one connection (one client port) per client
            ports = {results[c * PER_CLIENT + k].json["remoteport"] for k in range(PER_CLIENT)}
            self.assertEqual(len(ports), 1, "client %d used %d connections" % (c, len(ports)))

        # exactly one file per submission, matching subject, recipient and queue id
        files = self.server.eml_files()
        self.assertEqual(len(files), TOTAL)
        seen_subjects, seen_rcpts = {}, {}
        parser = email.parser.BytesHeaderParser(policy=email.policy.default)
        for path in files:
            with open(path, "rb") as f:
                msg = parser.parsebytes(f.read())
            subject = str(msg["Subject"])
            to = str(msg["To"])
            self.assertTrue(subject.startswith("load test message "), subject)
            n = int(subject.split()[3])
            self.assertEqual(to, "user%04d@load.example.jp" % n, path)
            qid = str(msg["Message-Id"]).strip()[1:17]
            self.assertEqual(queueids.get(qid), n, "Message-Id %s does not match the answer" % msg["Message-Id"])
            seen_subjects[subject] = seen_subjects.get(subject, 0) + 1
            seen_rcpts[to] = seen_rcpts.get(to, 0) + 1
        self.assertEqual(len(seen_subjects), TOTAL)
        self.assertEqual(set(seen_subjects.values()), {1})
        self.assertEqual(set(seen_rcpts.values()), {1})
        self.assertEqual(set(seen_rcpts), {"user%04d@load.example.jp" % n for n in range(TOTAL)})
        self.assertLess(elapsed, 120)


if __name__ == "__main__":
    unittest.main()
