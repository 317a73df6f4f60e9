"""SIGHUP applies new dns_servers and a new tls_ca_file (SMTP and HTTPS clients alike); a
broken file keeps the running configuration. SIGTERM during a retry's sleep ends the
sleep: each request in flight is answered at once with its last reply, gets its log
line, and the server exits 0, however many SIGTERMs it gets."""

import signal
import threading
import time
import unittest

from cloud_peer import Answer, CloudPeer
from harness import HOSTNAME, HainekoTestCase, free_port, message
from peers import AioPeer, Dnsmasq, SmtpSink, TlsFiles


def sink_pair(test):
    """Two smtp-sinks on the same port, one on 127.0.0.1 and one on 127.0.0.2 (the MX
    mailer uses the route's port for every exchanger)."""
    for _ in range(5):
        a = SmtpSink().start()
        try:
            b = SmtpSink(listen="127.0.0.2", port=a.port).start()
        except RuntimeError:
            a.cleanup()
            continue
        test.addClassCleanup(a.cleanup)
        test.addClassCleanup(b.cleanup)
        return a, b
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")


class ReloadDnsServers(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink_a, cls.sink_b = sink_pair(cls)
        cls.dns_a = Dnsmasq(["--mx-host=moved.test,mx-a.moved.test,10",
                             "--host-record=mx-a.moved.test,127.0.0.1"]).start()
        cls.addClassCleanup(cls.dns_a.cleanup)
        cls.dns_b = Dnsmasq(["--mx-host=moved.test,mx-b.moved.test,10",
                             "--host-record=mx-b.moved.test,127.0.0.2"]).start()
        cls.addClassCleanup(cls.dns_b.cleanup)
        cls.server = cls.make_server(etc={
            "haineko.cf": cls.conf(cls.dns_a.port),
            "mailertable": {"default": {"mailer": "MX", "port": cls.sink_a.port, "timeout": 5}},
            "recipients": {"domainpart": ["moved.test"]},
        })

    @staticmethod
    def conf(dns_port):
        return {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 1, "dns_servers": ["127.0.0.1:%d" % dns_port]}}

    def send(self, rcpt):
        resp = self.server.submit(message(rcpt=[rcpt]), timeout=60)
        self.assertEqual(resp.status, 200, resp)
        entry = resp.json["response"][0]
        self.assertEqual(entry["mailer"], "MX", entry)
        return entry

    def assertDeliveredTo(self, rcpt, exchanger, sink, other):
        entry = self.send(rcpt)
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["host"], exchanger, entry)
        self.assertEqual(len(sink.wait_for_rcpt(rcpt)), 1, "nothing at %s" % exchanger)
        self.assertEqual(other.for_rcpt(rcpt), [])

    def test_sighup_applies_new_dns_servers_and_a_broken_file_keeps_them(self):
        self.assertDeliveredTo("before@moved.test", "mx-a.moved.test", self.sink_a, self.sink_b)

        self.server.write_etc("haineko.cf", self.conf(self.dns_b.port))
        self.assertTrue(self.server.reload(), self.server.stderr_text()[-2000:])
        self.assertDeliveredTo("after@moved.test", "mx-b.moved.test", self.sink_b, self.sink_a)

        # a broken dns_servers entry: the reload fails, naming FILE:LINE, and dns_b stays
        self.server.write_etc("haineko.cf", "smtpd:\n  hostname: %s\n  dns_servers:\n    - 'not-an-ip'\n" % HOSTNAME)
        self.assertFalse(self.server.reload(), "a broken haineko.cf was taken")
        failed = self.server.log_lines("reload failed")
        self.assertIn(self.server.etc + "/haineko.cf:4", failed[-1])
        self.assertDeliveredTo("kept@moved.test", "mx-b.moved.test", self.sink_b, self.sink_a)
        self.assertTrue(self.server.alive())


class ReloadTlsCaFile(HainekoTestCase):
    """Started without tls_ca_file, the test CA is unknown; adding it and SIGHUP makes
    STARTTLS (SMTP) and HTTPS (a cloud API) verify."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tls = cls.class_peer(TlsFiles())
        cls.smtp = AioPeer(tls=cls.tls.server_context()).start()
        cls.addClassCleanup(cls.smtp.stop)
        cls.cloud = CloudPeer(default=Answer(202, b"", {"X-Message-Id": "sg-reload-1"}),
                              tls_context=cls.tls.server_context(), name="reload-tls").start()
        cls.addClassCleanup(cls.cloud.stop)
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 1}},
            "mailertable": {
                "smtp.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.smtp.port, "starttls": 1,
                                    "timeout": 5},
                "cloud.example.jp": {"mailer": "SendGrid", "auth": "sendgrid", "endpoint": cls.cloud.url,
                                     "timeout": 5},
            },
            "authinfo": {"sendgrid": {"username": "apikey", "password": "SG.reload-test-key"}},
            "recipients": {"domainpart": ["smtp.example.jp", "cloud.example.jp"]},
        })

    def send(self, rcpt):
        resp = self.server.submit(message(rcpt=[rcpt]), timeout=60)
        self.assertEqual(resp.status, 200, resp)
        return resp.json["response"][0]

    def test_sighup_applies_a_new_tls_ca_file(self):
        for rcpt in ("one@smtp.example.jp", "one@cloud.example.jp"):
            entry = self.send(rcpt)
            self.assertEqual(entry["error"], 1, "verified without the CA: %r" % entry)
            self.assertIn("certificate verify failed", " ".join(entry["message"]).lower(), entry)
        self.assertEqual(self.smtp.for_rcpt("one@smtp.example.jp"), [])
        self.assertEqual(self.cloud.received(), [])

        self.server.write_etc("haineko.cf", {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 1,
                                                       "tls_ca_file": self.tls.ca_cert}})
        self.assertTrue(self.server.reload(), self.server.stderr_text()[-2000:])

        entry = self.send("two@smtp.example.jp")
        self.assertEqual(entry["error"], 0, "the new tls_ca_file did not apply to SMTP: %r" % entry)
        got = self.smtp.wait_for_rcpt("two@smtp.example.jp")
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0].tls)
        entry = self.send("two@cloud.example.jp")
        self.assertEqual(entry["error"], 0, "the new tls_ca_file did not apply to HTTPS: %r" % entry)
        self.assertEqual(len(self.cloud.received()), 1)


class StopDuringRetry(HainekoTestCase):
    """Routes that answer 451 (SMTP) or cannot connect (Haineko) with retry: 3, sleep: 30."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = AioPeer(rcpt_hook=lambda address, nth: "451 4.3.0 Try again later").start()
        cls.addClassCleanup(cls.peer.stop)

    def make(self, closed_port):
        return self.start_own_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 1}},
            "mailertable": {
                "smtp.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": self.peer.port,
                                    "retry": 3, "sleep": 30, "timeout": 10},
                "hop.example.jp": {"mailer": "Haineko", "host": "127.0.0.1", "port": closed_port,
                                   "retry": 3, "sleep": 30, "timeout": 5},
            },
            "recipients": {"domainpart": ["smtp.example.jp", "hop.example.jp"]},
        })

    def test_sigterm_answers_requests_sleeping_between_tries(self):
        srv = self.make(free_port())
        results = {}

        def client(rcpt):
            try:
                resp = srv.submit(message(rcpt=[rcpt]), timeout=60)
                results[rcpt] = (resp, time.monotonic())
            except Exception as e:  # no answer at all
                results[rcpt] = (e, time.monotonic())

        rcpts = ["sleeping@smtp.example.jp", "hopping@hop.example.jp"]
        threads = [threading.Thread(target=client, args=(r,)) for r in rcpts]
        for t in threads:
            t.start()
        first_try = self.peer.rcpt_counts
        deadline = time.monotonic() + 15
        while first_try["sleeping@smtp.example.jp"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(first_try["sleeping@smtp.example.jp"], 1, "the first RCPT never came")
        time.sleep(1.0)  # both are now in their 30 s sleep
        self.assertEqual(results, {}, "answered before the retries: %r" % results)

        stopped_at = time.monotonic()
        srv.signal(signal.SIGTERM)
        for t in threads:
            t.join(15)
        rc = srv.proc.wait(15)
        exited_after = time.monotonic() - stopped_at
        self.assertEqual(rc, 0, srv.stderr_text()[-2000:])
        self.assertLess(exited_after, 6.0, "the server took %.1f s to stop" % exited_after)

        expected = {"sleeping@smtp.example.jp": ("451", "RCPT"), "hopping@hop.example.jp": (421, "CONN")}
        for rcpt, (code, command) in expected.items():
            with self.subTest(rcpt=rcpt):
                resp, when = results.get(rcpt, (None, None))
                self.assertFalse(resp is None or isinstance(resp, Exception), "no answer: %r" % (resp,))
                self.assertLess(when - stopped_at, 5.0, "answered %.1f s after SIGTERM" % (when - stopped_at))
                self.assertEqual(resp.status, 200, resp)
                entry = resp.json["response"][0]
                self.assertEqual(entry["error"], 1, entry)
                self.assertEqual(entry["code"], code, entry)
                self.assertEqual(entry["command"], command, entry)
                lines = srv.log_lines("queueid=" + resp.json["queueid"])
                self.assertEqual(len(lines), 1, "the submission's log line is missing:\n" + srv.stderr_text()[-3000:])
                self.assertIn(rcpt, lines[0])
        self.assertEqual(self.peer.rcpt_counts["sleeping@smtp.example.jp"], 1, "tried again after SIGTERM")


class RepeatedSigterm(unittest.TestCase):
    """systemd or an operator may send SIGTERM more than once: the stop stays clean."""

    def test_a_burst_of_sigterm_still_exits_0(self):
        from harness import Haineko
        for attempt in range(5):
            srv = Haineko(smtp_listen=[{"mode": "relay"}])
            self.addCleanup(srv.cleanup)
            srv.start()
            deadline = time.monotonic() + 5
            while srv.proc.poll() is None and time.monotonic() < deadline:
                try:
                    srv.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    break
                time.sleep(0.0002)
            rc = srv.stop()
            self.assertEqual(rc, 0, "attempt %d: %s" % (attempt, srv.stderr_text()[-2000:]))
            self.assertIn("queue store:", srv.stderr_text(), "the queue closed before the exit")


if __name__ == "__main__":
    unittest.main()
