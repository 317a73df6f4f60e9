"""GET /metrics (issue 11): Prometheus' text format, checked by promtool (Debian's prometheus
package), with counters that move as mail flows through /v1 and SMTP to a real aiosmtpd
peer (delivered, deferred, bounced), the queue's depth, the relay pool's sessions, and who
may read it (loopback, or credentials when Basic auth is on)."""

import datetime
import json
import re
import smtplib
import subprocess
import time
import unittest

from harness import HOSTNAME, HainekoTestCase, basic_auth, run_ctl
from peers import AioPeer, wait_for

PROXY = "127.0.0.2"      # a trusted proxy, so that a remote client needs no remote address
REMOTE = "203.0.113.9"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample; HELP and TYPE lines are skipped."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def hook(address, nth):
    if address.startswith("later@") and nth == 1:
        return "451 4.3.0 Try again later"
    if address.startswith("nobody@"):
        return "550 5.1.1 No such user"
    return None


class MetricsFlow(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = cls.class_peer(AioPeer(rcpt_hook=hook))
        cf = {"smtpd": {"hostname": HOSTNAME, "trusted_proxies": [PROXY]},
              "queue": {"min_backoff": 1, "max_backoff": 1},
              "smtp": {"greet_pause": 0}}
        mailertable = {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.peer.port, "timeout": 5}}
        cls.server = cls.make_server(etc={"haineko.cf": cf, "mailertable": mailertable},
                                     smtp_listen=[{"mode": "relay"}])

    def scrape(self, **kw):
        resp = self.server.request("GET", "/metrics", **kw)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        return resp.body.decode("utf-8")

    def post(self, payload):
        resp = self.server.request("POST", "/v1/messages", body=json.dumps(payload),
                                   headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, 202, resp.body)
        return resp.json["id"]

    def status_of(self, mid):
        return self.server.request("GET", "/v1/messages/" + mid).json["status"]

    def test_promtool_accepts_it_and_every_name_is_haineko(self):
        text = self.scrape()
        proc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        names = {k[0] for k in parse(text)}
        self.assertTrue(names)
        for name in names:
            self.assertTrue(name.startswith("haineko_"), name)
        for line in text.splitlines():
            if line.startswith("# TYPE ") or line.startswith("# HELP "):
                self.assertTrue(line.split()[2].startswith("haineko_"), line)
        s = parse(text)
        self.assertGreater(value(s, "haineko_process_cpu_seconds_total"), 0)
        self.assertGreater(value(s, "haineko_process_resident_memory_bytes"), 1 << 20)
        self.assertEqual(value(s, "haineko_queue_store_up"), 1)
        info = [k for k in s if k[0] == "haineko_node_info"]
        self.assertEqual(len(info), 1)
        self.assertIn(("node_id", "%s:%d" % (HOSTNAME, self.server.port)), info[0][1])

    def test_counters_move_as_mail_flows(self):
        before = parse(self.scrape())
        ids = [self.post({"from": "a@example.jp", "to": ["ok%d@example.jp" % i], "subject": "s", "text": "t"})
               for i in range(3)]
        later = self.post({"from": "a@example.jp", "to": ["later@example.jp"], "subject": "s", "text": "t"})
        bounced = self.post({"from": "a@example.jp", "to": ["nobody@example.jp"], "subject": "s", "text": "t"})
        with smtplib.SMTP("127.0.0.1", self.server.smtp_ports[0], timeout=10) as smtp:
            smtp.sendmail("a@example.jp", ["bysmtp@example.jp"], "Subject: s\r\n\r\nbody\r\n")
        for mid in ids + [later]:
            wait_for(lambda: self.status_of(mid) == "delivered", 20, 0.1)
            self.assertEqual(self.status_of(mid), "delivered")
        wait_for(lambda: self.status_of(bounced) == "bounced", 20, 0.1)
        wait_for(lambda: "bysmtp@example.jp" in sum((x.rcpt_tos for x in self.peer.received), []), 20, 0.1)
        # The bounce report to a@example.jp is delivered too: wait until the counters settle.
        time.sleep(0.5)
        after = parse(self.scrape())

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        self.assertEqual(moved("haineko_http_requests_total", endpoint="/v1/messages", status="202"), 5)
        self.assertGreaterEqual(moved("haineko_http_requests_total", endpoint="/v1/messages/{id}", status="200"), 5)
        self.assertEqual(moved("haineko_http_requests_total", endpoint="/metrics", status="200"), 1)
        # 3 + later (second attempt) + the SMTP one, and the bounce report to the sender.
        self.assertGreaterEqual(moved("haineko_deliveries_total", mailer="ESMTP", result="delivered"), 5)
        self.assertEqual(moved("haineko_deliveries_total", mailer="ESMTP", result="deferred"), 1)
        self.assertEqual(moved("haineko_deliveries_total", mailer="ESMTP", result="bounced"), 1)
        self.assertEqual(moved("haineko_smtp_messages_total", result="accepted"), 1)
        delivered = moved("haineko_deliveries_total", mailer="ESMTP", result="delivered")
        self.assertEqual(moved("haineko_delivery_latency_seconds_count"), delivered)
        self.assertEqual(moved("haineko_delivery_latency_seconds_bucket", le="+Inf"), delivered)
        self.assertGreater(moved("haineko_delivery_latency_seconds_sum"), 0)
        # later@ waited at least its one-second backoff: not in the buckets under one second.
        self.assertLessEqual(moved("haineko_delivery_latency_seconds_bucket", le="0.5"), delivered - 1)
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                         if k[0] == "haineko_delivery_latency_seconds_bucket" and dict(k[1])["le"] != "+Inf")
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "buckets are cumulative")
        # The pool keeps its session to the peer open and idle after the deliveries.
        host = "127.0.0.1:%d" % self.peer.port
        self.assertGreaterEqual(value(after, "haineko_smtp_pool_sessions_open", host=host), 1)
        self.assertGreaterEqual(value(after, "haineko_smtp_pool_sessions_idle", host=host), 1)

    def test_queue_depth_and_oldest_age(self):
        at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        mid = self.post({"from": "a@example.jp", "to": ["wait1@example.jp", "wait2@example.jp"], "subject": "s",
                         "text": "t", "send_at": at})
        # The counts are cached for a few seconds: the new message shows within that.
        wait_for(lambda: value(parse(self.scrape()), "haineko_queue_recipients", status="queued") >= 2, 10, 0.5)
        s = parse(self.scrape())
        self.assertGreaterEqual(value(s, "haineko_queue_recipients", status="queued"), 2)
        self.assertGreaterEqual(value(s, "haineko_queue_messages_pending"), 1)
        self.assertGreaterEqual(value(s, "haineko_queue_oldest_pending_age_seconds"), 0)
        self.assertEqual(value(s, "haineko_webhook_backlog"), 0)
        resp = self.server.request("DELETE", "/v1/messages/" + mid)
        self.assertEqual(resp.status, 200, resp.body)
        wait_for(lambda: value(parse(self.scrape()), "haineko_queue_recipients", status="queued") == 0, 10, 0.5)
        self.assertEqual(value(parse(self.scrape()), "haineko_queue_recipients", status="queued"), 0)

    def test_remote_clients_are_refused_without_auth(self):
        resp = self.server.request("GET", "/metrics", source=PROXY, headers={"X-Forwarded-For": REMOTE})
        self.assertEqual(resp.status, 403, resp.body)
        self.assertTrue(resp.header("Content-Type").startswith("application/json"))
        self.assertNotIn(b"haineko_", resp.body)

    def test_only_get(self):
        resp = self.server.request("POST", "/metrics", body="x")
        self.assertEqual(resp.status, 405, resp.body)


class MetricsWithAuth(HainekoTestCase):
    start_server = False
    USER, PASSWORD = "prom", "scrape me 7"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        line = run_ctl("pw", "-u", cls.USER, "-p", cls.PASSWORD)
        assert line.returncode == 0, line.stderr
        cls.server = cls.make_server(
            etc={"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "trusted_proxies": [PROXY]}},
                 "password": line.stdout},
            args=("-A",))

    def remote(self, **headers):
        headers["X-Forwarded-For"] = REMOTE
        return self.server.request("GET", "/metrics", source=PROXY, headers=headers)

    def test_remote_needs_credentials(self):
        resp = self.remote()
        self.assertEqual(resp.status, 401, resp.body)
        self.assertIn("Basic", resp.header("WWW-Authenticate"))
        self.assertEqual(self.remote(Authorization=basic_auth(self.USER, "wrong")).status, 401)
        ok = self.remote(Authorization=basic_auth(self.USER, self.PASSWORD))
        self.assertEqual(ok.status, 200, ok.body)
        self.assertIn(b"haineko_http_requests_total", ok.body)

    def test_loopback_needs_none(self):
        resp = self.server.request("GET", "/metrics")
        self.assertEqual(resp.status, 200, resp.body)
        # Counted, like any request: the refused remote ones among them.
        self.remote()
        s = parse(self.server.request("GET", "/metrics").body.decode())
        self.assertGreaterEqual(value(s, "haineko_http_requests_total", endpoint="/metrics", status="401"), 1)


if __name__ == "__main__":
    unittest.main()
