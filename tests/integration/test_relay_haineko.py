"""The Haineko mailer: two real servers relaying to each other over HTTP.

A (a.haineko.test) and B (b.haineko.test): by default each relays to the other, so a
message goes round until loop detection stops it; chain.example.jp goes A -> B -> B's
File mailer."""

import email
import email.policy
import signal
import time
import unittest

from harness import HainekoTestCase, free_port, message

A_NAME = "a.haineko.test"
B_NAME = "b.haineko.test"


class HainekoToHaineko(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.closed_port = free_port()
        a = cls.make_server(start=False, etc={
            "haineko.cf": {"smtpd": {"hostname": A_NAME}},
            "mailertable": {"default": {"mailer": "Discard"}},  # replaced once B's port is known
            "recipients": {"domainpart": ["example.jp", "chain.example.jp", "dead.example.jp",
                                          "closed.example.jp"]},
        })
        a.start()
        cls.addClassCleanup(cls._stop_checked, a)
        b = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": B_NAME}},
            "mailertable": {
                "default": {"mailer": "Haineko", "host": "127.0.0.1", "port": a.port, "timeout": 10},
                "chain.example.jp": {"mailer": "File", "path": "outbox"},
            },
            "recipients": {"domainpart": ["example.jp", "chain.example.jp"]},
        })
        a.write_etc("mailertable", {
            "default": {"mailer": "Haineko", "host": "127.0.0.1", "port": b.port, "timeout": 10},
            "dead.example.jp": {"mailer": "Haineko", "host": "127.0.0.1", "port": cls.closed_port, "timeout": 5},
        })
        before = a.stderr_text().count("configuration reloaded")
        a.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while a.stderr_text().count("configuration reloaded") <= before:
            if time.monotonic() > deadline:
                raise RuntimeError("A did not reload its mailertable:\n" + a.stderr_text()[-2000:])
            time.sleep(0.05)
        cls.a, cls.b = a, b

    def post(self, rcpts, **kw):
        resp = self.a.submit(message(rcpt=rcpts, **kw), timeout=60)
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.json["response"]), len(rcpts), resp.json)
        return resp.json

    def entry(self, j, rcpt):
        entries = [e for e in j["response"] if e["rcpt"] == rcpt]
        self.assertEqual(len(entries), 1, j)
        e = entries[0]
        self.assertEqual(e["mailer"], "Haineko", e)
        return e

    def test_loop_is_detected(self):
        j = self.post(["round@example.jp"])
        e = self.entry(j, "round@example.jp")
        self.assertEqual(e["error"], 1, e)
        self.assertEqual(int(e["code"]), 421, e)
        self.assertEqual(e["command"], "CONN", e)
        self.assertIn("Detected message loop", e["message"], e)
        self.assertEqual(e["host"], "127.0.0.1", e)
        self.assertEqual(e["port"], self.b.port, e)
        self.assertTrue(self.a.alive() and self.b.alive())
        delivered = [p for p in self.a.eml_files() + self.b.eml_files()
                     if str(self.parse(p)["To"]) == "round@example.jp"]
        self.assertEqual(delivered, [])

    def test_chain_a_b_file(self):
        body = "Relayed through two Haineko servers.\nねこ\n.dot line"
        j = self.post(["chained@chain.example.jp"],
                      header={"from": "Chain Sender <sender@example.org>", "subject": "A to B to File"}, body=body)
        e = self.entry(j, "chained@chain.example.jp")
        self.assertEqual(e["error"], 0, e)
        self.assertEqual(int(e["code"]) // 100, 2, e)
        self.assertEqual(e["host"], "127.0.0.1", e)
        self.assertEqual(e["port"], self.b.port, e)
        files = self.b.eml_files()
        msgs = [m for m in (self.parse(p) for p in files) if str(m["To"]) == "chained@chain.example.jp"]
        self.assertEqual(len(msgs), 1, files)
        msg = msgs[0]
        self.assertEqual(msg["Subject"], "A to B to File")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "sender@example.org")
        self.assertEqual(msg["From"].addresses[0].display_name, "Chain Sender")
        self.assertEqual(msg.get_content().replace("\r\n", "\n").rstrip("\n"), body)
        loop = str(msg["X-Haineko-Loop"])
        self.assertIn(A_NAME, loop)
        self.assertIn(B_NAME, loop)
        self.assertLess(loop.index(A_NAME), loop.index(B_NAME), "hops in order: %r" % loop)
        self.assertEqual(self.a.eml_files(), [])

    def test_chain_one_copy_per_recipient(self):
        rcpts = ["one@chain.example.jp", "two@chain.example.jp"]
        j = self.post(rcpts, header={"subject": "two through the chain"})
        for r in rcpts:
            self.assertEqual(self.entry(j, r)["error"], 0, j)
        got = [str(m["To"]) for m in (self.parse(p) for p in self.b.eml_files())
               if m["Subject"] == "two through the chain"]
        self.assertEqual(sorted(got), rcpts)

    def test_remote_refusal_comes_back_per_recipient(self):
        # A accepts closed.example.jp, B does not: B's rcpt/rejected comes back as this
        # recipient's error
        j = self.post(["nope@closed.example.jp"])
        e = self.entry(j, "nope@closed.example.jp")
        self.assertEqual(e["error"], 1, e)
        self.assertEqual(int(e["code"]), 553, e)
        self.assertEqual(e["dsn"], "5.7.1", e)
        self.assertEqual(e["port"], self.b.port, e)

    def test_remote_haineko_unreachable(self):
        j = self.post(["gone@dead.example.jp"])
        e = self.entry(j, "gone@dead.example.jp")
        self.assertEqual(e["error"], 1, e)
        self.assertEqual(int(e["code"]), 421, e)
        self.assertIn("Cannot connect SMTP Server", e["message"], e)
        self.assertEqual(e["host"], "127.0.0.1", e)
        self.assertEqual(e["port"], self.closed_port, e)

    @staticmethod
    def parse(path):
        with open(path, "rb") as f:
            return email.message_from_bytes(f.read(), policy=email.policy.default)


if __name__ == "__main__":
    unittest.main()
