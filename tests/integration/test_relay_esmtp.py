"""The ESMTP mailer against a real SMTP server (aiosmtpd): what arrives, and how the
relay's replies come back in the answer."""

import collections
import email
import email.policy
import signal
import subprocess
import threading
import time
import unittest

from harness import HOSTNAME, Haineko, HainekoTestCase, free_port, message
from peers import STALL, AioPeer, Controller, SmtpSink, StallListener, require_aiosmtpd, wait_for


class Recorder:
    """aiosmtpd handler: keeps what it receives; refuses *@reject.example.jp at RCPT."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages = []
        self.helo_names = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.helo_names.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@reject.example.jp"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Ok: queued as NEKO123"

    def for_rcpt(self, rcpt):
        with self.lock:
            return [m for m in self.messages if rcpt in m[1]]


class EsmtpRelay(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_aiosmtpd()  # a missing aiosmtpd fails these tests, never skips them
        cls.recorder = Recorder()
        cls.smtp_port = free_port()
        cls.controller = Controller(cls.recorder, hostname="127.0.0.1", port=cls.smtp_port)
        cls.controller.start()
        cls.addClassCleanup(cls.controller.stop)
        cls.closed_port = free_port()
        srv = cls.make_server(start=False, etc={
            # idle relay connections go after 1 s, so that stopping this server does not wait for
            # them (test_sigterm_with_pooled_connection checks the default)
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 1}},
            "mailertable": {
                "default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.smtp_port, "timeout": 10},
                "down.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.closed_port,
                                    "timeout": 5},
            },
            "recipients": {"domainpart": ["example.jp", "reject.example.jp", "down.example.jp"]},
        })
        srv.start()
        cls.addClassCleanup(cls._stop_checked, srv)
        cls.server = srv

    def submit(self, **kw):
        resp = self.server.submit(message(**kw))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        return resp.json

    def test_relay(self):
        body = "first line\n.\n..leading dots\n.end"
        j = self.submit(rcpt=["smtp1@example.jp"], header={"subject": "over SMTP ねこ"}, body=body)
        entry = j["response"][0]
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["mailer"], "ESMTP")
        self.assertEqual(entry["rcpt"], "smtp1@example.jp")
        self.assertEqual(entry["host"], "127.0.0.1")
        self.assertEqual(int(entry["port"]), self.smtp_port)
        self.assertEqual(int(entry["code"]) // 100, 2, entry)
        self.assertRegex(entry["dsn"] or "", r"^2\.\d+\.\d+$")
        got = self.recorder.for_rcpt("smtp1@example.jp")
        self.assertEqual(len(got), 1)
        mail_from, rcpts, content = got[0]
        self.assertEqual(mail_from, "sender@example.org")
        self.assertEqual(rcpts, ["smtp1@example.jp"])
        msg = email.message_from_bytes(content, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "over SMTP ねこ")
        self.assertEqual(str(msg["To"]), "smtp1@example.jp")
        self.assertEqual(msg.get_content().replace("\r\n", "\n").rstrip("\n"), body)
        self.assertIn(HOSTNAME, self.recorder.helo_names)

    def test_rejected_recipient(self):
        j = self.submit(rcpt=["nobody@reject.example.jp", "smtp2@example.jp"])
        by = {e["rcpt"]: e for e in j["response"]}
        bad = by["nobody@reject.example.jp"]
        self.assertEqual(bad["error"], 1, bad)
        self.assertEqual(int(bad["code"]), 550, bad)
        self.assertEqual(bad["dsn"], "5.1.1", bad)
        self.assertEqual(bad["command"], "RCPT", bad)
        self.assertTrue(any("User unknown" in m for m in bad["message"]), bad)
        self.assertEqual(by["smtp2@example.jp"]["error"], 0, by["smtp2@example.jp"])
        self.assertEqual(len(self.recorder.for_rcpt("smtp2@example.jp")), 1)
        self.assertEqual(self.recorder.for_rcpt("nobody@reject.example.jp"), [])

    def test_cannot_connect(self):
        j = self.submit(rcpt=["someone@down.example.jp"])
        entry = j["response"][0]
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(int(entry["code"]), 421, entry)
        self.assertEqual(entry["command"], "CONN", entry)
        self.assertEqual(entry["message"], ["Cannot connect SMTP Server"], entry)
        self.assertEqual(entry["host"], "127.0.0.1")
        self.assertEqual(int(entry["port"]), self.closed_port)
        self.assertEqual(entry["rcpt"], "someone@down.example.jp")

    def test_sigterm_with_pooled_connection(self):
        """An idle relay connection kept for reuse must not hold up SIGTERM."""
        srv = Haineko(etc={"mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1",
                                                       "port": self.smtp_port}}})
        self.addCleanup(srv.cleanup)
        srv.start()
        try:
            j = srv.submit(message(rcpt=["pool@example.jp"]))
            self.assertEqual(j.status, 200, j)
            self.assertEqual(j.json["response"][0]["error"], 0, j.json)
            start = time.monotonic()
            srv.signal(signal.SIGTERM)
            try:
                rc = srv.proc.wait(10)
            except subprocess.TimeoutExpired:
                rc = None
            self.assertEqual(rc, 0, "still running %.0fs after SIGTERM with an idle relay connection"
                             % (time.monotonic() - start))
        finally:
            if srv.alive():
                srv.proc.kill()
            srv.stop()

    def test_several_recipients(self):
        rcpts = ["m1@example.jp", "m2@example.jp", "m3@example.jp"]
        j = self.submit(rcpt=rcpts, header={"subject": "several"})
        self.assertEqual([e["error"] for e in j["response"]], [0, 0, 0], j)
        for r in rcpts:
            got = self.recorder.for_rcpt(r)
            self.assertEqual(len(got), 1, r)
            msg = email.message_from_bytes(got[0][2], policy=email.policy.default)
            self.assertEqual(str(msg["To"]), r)


# --------------------------------------------------------------------------------------
# ESMTP to Postfix's smtp-sink: what arrives, MAIL/RCPT parameters, the answer's shape.
# --------------------------------------------------------------------------------------

def relay_entry(testcase, j, rcpt):
    """The response entry for rcpt (exactly one)."""
    entries = [e for e in j["response"] if e["rcpt"] == rcpt]
    testcase.assertEqual(len(entries), 1, "one entry for %s expected: %r" % (rcpt, j))
    return entries[0]


def body_text(msg):
    return msg.get_content().replace("\r\n", "\n")


class SinkRelay(HainekoTestCase):
    """smtp-sink peers: `full` offers PIPELINING, 8BITMIME and DSN; `bare` (-p -8 -N) none
    of them; `old` (-e) no ESMTP at all."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.full = cls.class_peer(SmtpSink())
        cls.bare = cls.class_peer(SmtpSink(options=["-p", "-8", "-N"]))
        cls.old = cls.class_peer(SmtpSink(options=["-e"]))
        cls.closed_port = free_port()
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 2}},
            "mailertable": {
                "default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.full.port, "timeout": 10},
                "bare.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.bare.port, "timeout": 10},
                "old.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.old.port, "timeout": 10},
                "down.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.closed_port, "timeout": 5},
            },
            "recipients": {"domainpart": ["example.jp", "example.com", "bare.example.jp", "old.example.jp",
                                          "down.example.jp"]},
        })

    def post(self, **kw):
        resp = self.server.submit(message(**kw))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        return resp.json

    def assertDelivered(self, entry, port):
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["mailer"], "ESMTP", entry)
        self.assertEqual(entry["host"], "127.0.0.1", entry)
        self.assertEqual(entry["port"], port, entry)
        self.assertIsInstance(entry["code"], str, "a relay's code stays a string: %r" % entry)
        self.assertEqual(entry["code"], "250", entry)
        self.assertEqual(entry["dsn"], "2.0.0", entry)
        # as the original: a message that went through ends at QUIT, with the DATA answer
        self.assertEqual(entry["command"], "QUIT", entry)
        self.assertTrue(entry["message"] and all(isinstance(m, str) for m in entry["message"]), entry)

    def test_message_arrives_as_posted_one_copy_per_recipient(self):
        rcpts = ["posted-1@example.jp", "posted-2@example.com"]
        body = "Dear neko,\n\nthis is the first paragraph.\nSecond line.\n\n-- \nHaineko"
        j = self.post(rcpt=rcpts, header={"from": "Neko Sender <sender@example.org>", "subject": "Relay to the sink",
                                          "replyto": "list@example.org"}, body=body)
        self.assertSessionShape(j)
        self.assertEqual(j["recipient"], rcpts)
        self.assertEqual(len(j["response"]), 2, j)
        for r in rcpts:
            self.assertDelivered(relay_entry(self, j, r), self.full.port)
        message_ids = set()
        for r in rcpts:
            got = self.full.wait_for_rcpt(r)
            self.assertEqual(len(got), 1, "one copy for %s: %r" % (r, got))
            m = got[0]
            self.assertEqual(m.rcpt_args and m.rcpts, [r], m)  # only its own recipient in the envelope
            self.assertTrue(m.mail_args.startswith("<sender@example.org>"), m.mail_args)
            self.assertEqual(m.helo_args, HOSTNAME)
            self.assertEqual(m.proto, "ESMTP")
            msg = m.msg
            self.assertEqual(msg["Subject"], "Relay to the sink")
            self.assertEqual(msg["From"].addresses[0].addr_spec, "sender@example.org")
            self.assertEqual(msg["From"].addresses[0].display_name, "Neko Sender")
            self.assertEqual(str(msg["Reply-To"]), "list@example.org")
            self.assertEqual([a.addr_spec for a in msg["To"].addresses], [r], "To must be only %s" % r)
            self.assertEqual(len(msg.get_all("To")), 1)
            self.assertEqual(body_text(msg).rstrip("\n"), body)
            self.assertTrue(str(msg["Message-Id"]).startswith("<" + j["queueid"] + "."), msg["Message-Id"])
            message_ids.add(str(msg["Message-Id"]))
        self.assertEqual(len(message_ids), 1, "both copies are the same message")

    def test_dot_stuffing(self):
        body = ".\n.leading dot\n..two dots\n.\nafter a lone dot\ntrailing.\n. space\n..."
        j = self.post(rcpt=["dots@example.jp"], body=body)
        self.assertDelivered(j["response"][0], self.full.port)
        got = self.full.wait_for_rcpt("dots@example.jp")
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].msg["Content-Transfer-Encoding"], "7bit")
        self.assertEqual(body_text(got[0].msg).rstrip("\n"), body)

    def test_8bitmime_used_when_offered(self):
        body = "ねこの本文です。\nCafé au lait — 8bit\n"
        j = self.post(rcpt=["eight@example.jp"], header={"subject": "8bit body"}, body=body)
        self.assertDelivered(j["response"][0], self.full.port)
        m = self.full.wait_for_rcpt("eight@example.jp")[0]
        self.assertIn("BODY=8BITMIME", m.mail_args.upper().split(), m.mail_args)
        self.assertEqual(m.msg["Content-Transfer-Encoding"], "8bit")
        self.assertIn("ねこの本文です。".encode("utf-8"), m.raw, "the UTF-8 bytes travel as they are")
        self.assertEqual(body_text(m.msg).rstrip("\n"), body.rstrip("\n"))

    def test_7bit_body_when_8bitmime_is_not_offered(self):
        body = "ねこの本文です。\nCafé au lait — 8bit\n"
        j = self.post(rcpt=["seven@bare.example.jp"], header={"subject": "8bit body, 7bit server"}, body=body)
        self.assertDelivered(j["response"][0], self.bare.port)
        m = self.bare.wait_for_rcpt("seven@bare.example.jp")[0]
        self.assertNotIn("BODY=8BITMIME", m.mail_args.upper(), m.mail_args)
        self.assertEqual(m.msg["Content-Transfer-Encoding"], "base64")
        self.assertTrue(all(b < 0x80 for b in m.raw), "a non-8BITMIME server must get 7-bit data only")
        self.assertEqual(body_text(m.msg).rstrip("\n"), body.rstrip("\n"))
        self.assertEqual(m.msg.get_content_charset(), "utf-8")

    def test_dsn_parameters_when_offered(self):
        j = self.post(rcpt=["dsn@example.jp", "nodsn@bare.example.jp"])
        self.assertDelivered(relay_entry(self, j, "dsn@example.jp"), self.full.port)
        self.assertDelivered(relay_entry(self, j, "nodsn@bare.example.jp"), self.bare.port)
        m = self.full.wait_for_rcpt("dsn@example.jp")[0]
        self.assertIn("RET=FULL", m.mail_args.upper().split(), m.mail_args)
        self.assertEqual(len(m.rcpt_args), 1)
        self.assertIn("NOTIFY=FAILURE,DELAY", m.rcpt_args[0].upper().split(), m.rcpt_args)
        n = self.bare.wait_for_rcpt("nodsn@bare.example.jp")[0]
        self.assertNotIn("RET=", n.mail_args.upper(), n.mail_args)
        self.assertNotIn("NOTIFY=", n.rcpt_args[0].upper(), n.rcpt_args)

    def test_server_without_esmtp_gets_helo(self):
        body = "plain SMTP peer; ünïcode"
        j = self.post(rcpt=["helo@old.example.jp"], body=body)
        self.assertDelivered(j["response"][0], self.old.port)
        m = self.old.wait_for_rcpt("helo@old.example.jp")[0]
        self.assertEqual(m.proto, "SMTP", "EHLO refused: HELO expected")
        self.assertEqual(m.helo_args, HOSTNAME)
        self.assertEqual(m.mail_args, "<sender@example.org>", "no ESMTP parameters to an SMTP server")
        self.assertEqual(m.rcpt_args, ["<helo@old.example.jp>"])
        self.assertTrue(all(b < 0x80 for b in m.raw))
        self.assertEqual(body_text(m.msg).rstrip("\n"), body)

    def test_unreachable_relay_is_cannot_connect(self):
        j = self.post(rcpt=["nobody@down.example.jp"])
        self.assertEqual(len(j["response"]), 1, j)
        entry = j["response"][0]
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(int(entry["code"]), 421, entry)
        self.assertEqual(entry["command"], "CONN", entry)
        self.assertEqual(entry["message"], ["Cannot connect SMTP Server"], entry)
        self.assertEqual(entry["host"], "127.0.0.1", entry)
        self.assertEqual(entry["port"], self.closed_port, entry)
        self.assertEqual(entry["rcpt"], "nobody@down.example.jp", entry)
        self.assertEqual(entry["mailer"], "ESMTP", entry)

    def test_partial_success_is_per_recipient(self):
        j = self.post(rcpt=["nobody@down.example.jp", "fine@example.jp"])
        self.assertEqual(relay_entry(self, j, "nobody@down.example.jp")["error"], 1, j)
        self.assertDelivered(relay_entry(self, j, "fine@example.jp"), self.full.port)
        self.assertEqual(len(self.full.wait_for_rcpt("fine@example.jp")), 1)


# --------------------------------------------------------------------------------------
# The session pool: per-host limit, reuse, per-session message limit, idle timeout.
# --------------------------------------------------------------------------------------

class SessionPool(HainekoTestCase):
    start_server = False

    def peer(self):
        p = AioPeer(extra_ehlo=["PIPELINING"]).start()
        self.addCleanup(p.stop)
        return p

    def server_for(self, peer, smtpd=None, args=()):
        # idle sessions close after 2 s so that stopping the server does not wait for them
        # (EsmtpRelay.test_sigterm_with_pooled_connection checks the default)
        conf = {"hostname": HOSTNAME, "pool_idle_timeout": 2}
        conf.update(smtpd or {})
        return self.start_own_server(args=args, etc={
            "haineko.cf": {"smtpd": conf},
            "mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": peer.port, "timeout": 30}},
        })

    def flood(self, srv, clients, per_client, prefix):
        """clients threads × per_client submissions, one recipient each; returns {rcpt: entry}."""
        results = {}
        failures = []
        lock = threading.Lock()

        def client(c):
            conn = srv.connection(timeout=60)
            try:
                for n in range(per_client):
                    rcpt = "%s-%d-%d@example.jp" % (prefix, c, n)
                    try:
                        resp = srv.submit(message(rcpt=[rcpt]), conn=conn, timeout=60)
                    except Exception as e:  # a dropped keep-alive connection: once more on a new one
                        conn.close()
                        conn = srv.connection(timeout=60)
                        try:
                            resp = srv.submit(message(rcpt=[rcpt]), conn=conn, timeout=60)
                        except Exception as e2:
                            with lock:
                                failures.append((rcpt, repr(e), repr(e2)))
                            continue
                    with lock:
                        if resp.status != 200 or not resp.json:
                            failures.append((rcpt, resp.status, resp.body[:300]))
                        else:
                            results[rcpt] = resp.json["response"][0]
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(150)
        self.assertEqual(failures, [], "requests that failed")
        return results

    def check_flood(self, peer, results, expected, limit):
        bad = {r: e for r, e in results.items() if e["error"] != 0 or e["code"] != "250"}
        self.assertEqual(bad, {}, "undelivered")
        self.assertEqual(len(results), expected)
        received = collections.Counter()
        for m in peer.received:
            for r in m.rcpt_tos:
                received[r] += 1
        self.assertEqual(set(received), set(results), "every message arrives")
        self.assertEqual([r for r, n in received.items() if n != 1], [], "and exactly once")
        self.assertLessEqual(peer.max_current, limit,
                             "%d SMTP sessions at once with max_sessions_per_host %d" % (peer.max_current, limit))
        self.assertLess(peer.total, expected, "warm sessions must be reused")

    def test_500_messages_at_most_4_sessions(self):
        peer = self.peer()
        srv = self.server_for(peer, {"max_sessions_per_host": 4})
        results = self.flood(srv, 50, 10, "flood")
        self.check_flood(peer, results, 500, 4)
        self.assertGreaterEqual(peer.max_current, 2, "the pool should work in parallel")
        self.assertLessEqual(peer.total, 40, "far fewer connections than messages")

    def test_limit_holds_with_more_event_loops_than_sessions(self):
        """-t 8 event loops sharing max_sessions_per_host: 4 must still mean 4 at once."""
        peer = self.peer()
        srv = self.server_for(peer, {"max_sessions_per_host": 4}, args=("-t", "8"))
        results = self.flood(srv, 40, 5, "loops")
        self.check_flood(peer, results, 200, 4)

    def test_warm_session_is_reused(self):
        peer = self.peer()
        srv = self.server_for(peer, args=("-t", "1"))  # one loop: one pool
        for n in range(5):
            resp = srv.submit(message(rcpt=["warm-%d@example.jp" % n]))
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)
        self.assertEqual(len(peer.received), 5)
        self.assertEqual(peer.total, 1, "five messages in a row over one session")
        # A completed transaction leaves the session clean: no RSET is needed between them.
        self.assertEqual(peer.verbs("RSET"), [])

    def test_max_messages_per_session(self):
        peer = self.peer()
        srv = self.server_for(peer, {"max_messages_per_session": 2}, args=("-t", "1"))
        for n in range(5):
            resp = srv.submit(message(rcpt=["per-session-%d@example.jp" % n]))
            self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)
        self.assertEqual(len(peer.received), 5)
        self.assertEqual(peer.total, 3, "2 + 2 + 1 messages")

    def test_idle_session_closed_after_pool_idle_timeout(self):
        peer = self.peer()
        srv = self.server_for(peer, {"pool_idle_timeout": 1}, args=("-t", "1"))
        resp = srv.submit(message(rcpt=["idle-1@example.jp"]))
        self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)
        self.assertEqual(peer.current, 1, "the session stays open for reuse")
        self.assertTrue(wait_for(lambda: peer.current == 0, 5), "idle session still open after pool_idle_timeout")
        resp = srv.submit(message(rcpt=["idle-2@example.jp"]))
        self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)
        self.assertEqual(peer.total, 2)
        self.assertEqual(len(peer.received), 2)


# --------------------------------------------------------------------------------------
# Retries and failures (aiosmtpd misbehaving on purpose); one event loop (-t 1) so that
# "the server keeps serving others during a retry's sleep" means something.
# --------------------------------------------------------------------------------------

def misbehave(address, nth):
    local = address.split("@")[0]
    if local.startswith("retry") and nth == 1:
        return "451 4.3.0 Temporary failure, try again later"
    if local.startswith("always"):
        return "451 4.3.0 Temporary failure, try again later"
    if local.startswith("reject"):
        return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
    if local.startswith("stall"):
        return STALL
    return None


class RetriesAndFailures(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = AioPeer(rcpt_hook=misbehave, drop_in_data=lambda r: r.startswith("drop")).start()
        cls.addClassCleanup(cls.peer.stop)
        cls.silent = StallListener()
        cls.addClassCleanup(cls.silent.stop)
        port = cls.peer.port
        cls.server = cls.make_server(args=("-t", "1"), etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME}},
            "mailertable": {
                "default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": port, "timeout": 10},
                "retry.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": port, "timeout": 10,
                                     "retry": 2, "sleep": 1},
                "stall.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": port, "timeout": 2},
                "silent.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.silent.port,
                                      "timeout": 2},
            },
            "recipients": {"domainpart": ["example.jp", "retry.example.jp", "stall.example.jp",
                                          "silent.example.jp"]},
        })

    def post(self, rcpts, timeout=60):
        resp = self.server.submit(message(rcpt=rcpts), timeout=timeout)
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        return resp.json

    def test_451_then_250_with_retry_delivers_without_blocking_others(self):
        rcpt = "retry-1@retry.example.jp"
        out = {}

        def slow():
            t = time.monotonic()
            out["resp"] = self.server.submit(message(rcpt=[rcpt]), timeout=60)
            out["elapsed"] = time.monotonic() - t
            out["done"] = time.monotonic()

        start = time.monotonic()
        th = threading.Thread(target=slow)
        th.start()
        self.assertTrue(wait_for(lambda: self.peer.rcpt_counts[rcpt] >= 1, 10), "the first RCPT never came")
        other = self.server.submit(message(rcpt=["during-sleep@example.jp"]), timeout=10)
        other_done = time.monotonic()
        th.join(30)
        self.assertFalse(th.is_alive())
        self.assertEqual(other.status, 200, other)
        self.assertEqual(other.json["response"][0]["error"], 0, other.json)
        self.assertLess(other_done, out["done"], "another request must be answered while the retry sleeps")
        self.assertLess(other_done - start, out["elapsed"])
        entry = out["resp"].json["response"][0]
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["code"], "250", entry)
        self.assertGreaterEqual(out["elapsed"], 0.9, "sleep: 1 between tries")
        self.assertLess(out["elapsed"], 8)
        self.assertEqual(self.peer.rcpt_counts[rcpt], 2, "one 451, one 250")
        self.assertEqual(len(self.peer.for_rcpt(rcpt)), 1, "delivered exactly once")

    def test_451_without_retry_is_the_answer(self):
        j = self.post(["always-once@example.jp"])
        entry = j["response"][0]
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(entry["code"], "451", entry)
        self.assertEqual(entry["dsn"], "4.3.0", entry)
        self.assertEqual(entry["command"], "RCPT", entry)
        self.assertEqual(self.peer.rcpt_counts["always-once@example.jp"], 1, "retry: 0 means one try")

    def test_451_retries_run_out(self):
        rcpt = "always-x@retry.example.jp"
        t = time.monotonic()
        j = self.post([rcpt])
        elapsed = time.monotonic() - t
        entry = j["response"][0]
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(entry["code"], "451", entry)
        self.assertEqual(self.peer.rcpt_counts[rcpt], 3, "one try and retry: 2 more")
        self.assertGreaterEqual(elapsed, 1.9, "two sleeps of 1 s")
        self.assertEqual(self.peer.for_rcpt(rcpt), [])

    def test_550_on_one_recipient_of_two(self):
        j = self.post(["reject-1@example.jp", "accept-1@example.jp"])
        bad = relay_entry(self, j, "reject-1@example.jp")
        self.assertEqual(bad["error"], 1, bad)
        self.assertEqual(bad["code"], "550", bad)
        self.assertEqual(bad["dsn"], "5.1.1", bad)
        self.assertEqual(bad["command"], "RCPT", bad)
        self.assertTrue(any("User unknown" in m for m in bad["message"]), bad)
        self.assertEqual(bad["mailer"], "ESMTP")
        self.assertEqual(bad["port"], self.peer.port)
        good = relay_entry(self, j, "accept-1@example.jp")
        self.assertEqual(good["error"], 0, good)
        self.assertEqual(good["code"], "250", good)
        self.assertEqual(len(self.peer.for_rcpt("accept-1@example.jp")), 1)
        self.assertEqual(self.peer.for_rcpt("reject-1@example.jp"), [])

    def test_connection_dropped_in_data(self):
        j = self.post(["drop-1@example.jp"])
        entry = j["response"][0]
        self.assertEqual(entry["error"], 1, entry)
        self.assertTrue(400 <= int(entry["code"]) < 500, "a dropped connection is temporary: %r" % entry)
        self.assertEqual(entry["command"], "DATA", entry)
        self.assertEqual(entry["rcpt"], "drop-1@example.jp")
        self.assertTrue(self.peer.verbs("DROPPED"), "the peer did not drop the connection")
        self.assertEqual(self.peer.for_rcpt("drop-1@example.jp"), [])
        # and the next message to the same server goes through on a fresh session
        j = self.post(["after-drop@example.jp"])
        self.assertEqual(j["response"][0]["error"], 0, j)

    def assertTimedOut(self, entry, elapsed, command):
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(int(entry["code"]), 421, entry)
        self.assertEqual(entry["dsn"], "4.4.2", entry)
        self.assertEqual(entry["command"], command, entry)
        self.assertIn("timeout", " ".join(entry["message"]).lower(), entry)
        self.assertGreaterEqual(elapsed, 1.8, "gave up before the route's timeout of 2 s")
        self.assertLess(elapsed, 6, "timeout: 2 should give up within about 2 s")

    def test_silent_server_times_out(self):
        t = time.monotonic()
        j = self.post(["x@silent.example.jp"], timeout=30)
        elapsed = time.monotonic() - t
        entry = j["response"][0]
        self.assertTimedOut(entry, elapsed, "CONN")
        self.assertEqual(entry["port"], self.silent.port)
        self.assertTrue(self.silent.accepted, "it did connect")

    def test_server_stalling_at_rcpt_times_out(self):
        rcpt = "stall-1@stall.example.jp"
        t = time.monotonic()
        j = self.post([rcpt], timeout=30)
        elapsed = time.monotonic() - t
        self.assertIn(rcpt, self.peer.stalled)
        self.assertTimedOut(j["response"][0], elapsed, "RCPT")


if __name__ == "__main__":
    unittest.main()
