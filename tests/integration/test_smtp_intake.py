"""SMTP intake (issue 10): Haineko as an SMTP server on listeners of smtp: and --smtp, with
Python's smtplib and swaks as clients, STARTTLS and implicit TLS against a test CA made with
openssl, AUTH PLAIN and LOGIN against the password file, every refusal by its code,
PIPELINING and BDAT, SMTP smuggling attempts, and a message taken by SMTP and delivered to
an aiosmtpd peer with its header intact."""

import email
import email.policy
import json
import os
import signal
import socket
import ssl
import smtplib
import subprocess
import time
import unittest

from harness import HOSTNAME, Haineko, HainekoTestCase, free_port, run_ctl
from peers import AioPeer, TlsFiles, require_aiosmtpd, wait_for

USER, PASSWORD = "tabby", "purr purr 9"


def pw_line(user, password):
    proc = run_ctl("pw", "-u", user, "-p", password)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class Talk:
    """A raw SMTP conversation, for what smtplib will not send."""

    def __init__(self, port, greet=True, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        if greet:
            self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One whole reply (every line of a multi-line one) as text."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("closed after %r" % lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace").rstrip("\r")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return "\n".join(lines)

    def command(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server closes the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def message_text(subject, body="Hello from SMTP.\r\n", extra=""):
    return ("From: Sender <sender@example.org>\r\nTo: rcpt@example.jp\r\nSubject: %s\r\n%s\r\n%s"
            % (subject, extra, body))


class SmtpIntakeBase(HainekoTestCase):
    start_server = False
    listeners = [
        {"mode": "relay", "tls": "none"},
        {"mode": "relay", "tls": "starttls"},
        {"mode": "submission", "tls": "starttls"},
        {"mode": "relay", "tls": "implicit"},
    ]
    smtp_options = {}
    extra_etc = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tls = cls.class_peer(TlsFiles())
        smtp = {"tls_cert": cls.tls.server_cert, "tls_key": cls.tls.server_key, "greet_pause": 200}
        smtp.update(cls.smtp_options)
        etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_message_size": 20000}, "smtp": smtp},
               "password": pw_line(USER, PASSWORD)}
        etc.update(cls.extra_etc)
        cls.server = cls.make_server(etc=etc, smtp_listen=cls.listeners)
        cls.plain, cls.starttls, cls.submission, cls.implicit = cls.server.smtp_ports

    def client_context(self):
        return ssl.create_default_context(cafile=self.tls.ca_cert)

    def queued_id(self, reply):
        text = reply if isinstance(reply, str) else reply.decode()
        self.assertIn("2.0.0 Ok: queued as ", text)
        return text.rsplit(" ", 1)[1].strip()

    def delivered(self, queue_id):
        """The message the File mailer wrote for this queue id (waits for its delivery)."""
        state = {}

        def done():
            resp = self.server.request("GET", "/v1/messages/" + queue_id)
            state["json"] = resp.json
            return resp.status == 200 and resp.json["status"] == "delivered"

        self.assertTrue(wait_for(done, timeout=10), "%s not delivered: %r" % (queue_id, state.get("json")))
        path = state["json"]["recipients"][0]["last_reply"]["message"][0]
        with open(path, "rb") as f:
            raw = f.read()
        return raw, email.message_from_bytes(raw, policy=email.policy.default)

    def subjects_queued(self):
        resp = self.server.request("GET", "/v1/messages?limit=1000")
        self.assertEqual(resp.status, 200, resp)
        return [m["subject"] for m in resp.json["messages"]]

    def send_raw(self, port, subject, content):
        """MAIL, RCPT and DATA with content sent as is; the reply to the end of data."""
        t = Talk(port)
        self.addCleanup(t.close)
        self.assertTrue(t.command("EHLO client.example.org").startswith("250"))
        self.assertTrue(t.command("MAIL FROM:<sender@example.org>").startswith("250"))
        self.assertTrue(t.command("RCPT TO:<rcpt@example.jp>").startswith("250"))
        self.assertTrue(t.command("DATA").startswith("354"))
        t.send(content)
        return t, t.reply()


class Intake(SmtpIntakeBase):
    smtp_options = {"command_timeout": 2, "max_rcpts_per_transaction": 3}

    def test_message_is_queued_and_delivered_with_its_header(self):
        with smtplib.SMTP("127.0.0.1", self.plain, timeout=10) as s:
            s.ehlo("client.example.org")
            s.mail("sender@example.org")
            s.rcpt("rcpt@example.jp")
            body = message_text("intake one", "line one\r\n.leading dot\r\n", "X-Custom: kept as sent\r\n")
            code, reply = s.data(body)
        self.assertEqual(code, 250, reply)
        qid = self.queued_id(reply)
        raw, msg = self.delivered(qid)
        received = msg.get_all("Received")[0]
        self.assertIn("from client.example.org ([127.0.0.1])", received)
        self.assertIn("by %s (Haineko) with ESMTP id %s" % (HOSTNAME, qid), received)
        self.assertIn("for <rcpt@example.jp>", received)
        self.assertEqual(msg["X-Custom"], "kept as sent")
        self.assertEqual(msg["Subject"], "intake one")
        self.assertTrue(msg["Message-Id"].startswith("<" + qid + "."), msg["Message-Id"])
        self.assertIsNotNone(msg["Date"])
        self.assertIn(b"\r\nline one\r\n.leading dot\r\n", raw)
        resp = self.server.request("GET", "/v1/messages/" + qid)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["mail"], "sender@example.org")
        self.assertEqual([r["rcpt"] for r in resp.json["recipients"]], ["rcpt@example.jp"])

    def test_ehlo_offers_the_extensions(self):
        t = Talk(self.starttls)
        self.addCleanup(t.close)
        self.assertTrue(t.greeting.startswith("220 " + HOSTNAME), t.greeting)
        ehlo = t.command("EHLO client.example.org")
        for keyword in ("PIPELINING", "SIZE 20000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN",
                        "CHUNKING", "STARTTLS"):
            self.assertIn("250-" + keyword if keyword != "STARTTLS" else keyword, ehlo)
        self.assertNotIn("AUTH", ehlo)  # only after TLS (auth_requires_tls)

    def test_commands_and_their_refusals(self):
        t = Talk(self.plain)
        self.addCleanup(t.close)
        self.assertTrue(t.command("MAIL FROM:<a@example.org>").startswith("503 5.5.1"))
        self.assertTrue(t.command("EHLO client.example.org").startswith("250"))
        self.assertTrue(t.command("FROB").startswith("502 5.5.2"))
        self.assertTrue(t.command("NOOP " + "x" * 600).startswith("500 5.5.2"))
        self.assertTrue(t.command("RCPT TO:<rcpt@example.jp>").startswith("503 5.5.1"))
        self.assertTrue(t.command("VRFY rcpt").startswith("252"))
        self.assertTrue(t.command("HELP").startswith("214"))
        self.assertTrue(t.command("NOOP").startswith("250"))
        self.assertTrue(t.command("MAIL FROM:<a@example.org> SIZE=999999").startswith("552 5.3.4"))
        self.assertTrue(t.command("MAIL FROM:<a@example.org> SIZE=100").startswith("250"))
        self.assertTrue(t.command("RCPT TO:<rcpt@example.net>").startswith("553 5.7.1 Recipient address is not permitted"))
        for i in range(3):
            self.assertTrue(t.command("RCPT TO:<r%d@example.jp>" % i).startswith("250"))
        self.assertTrue(t.command("RCPT TO:<r9@example.jp>").startswith("452 4.5.3"))
        self.assertTrue(t.command("RSET").startswith("250"))
        self.assertTrue(t.command("QUIT").startswith("221"))
        self.assertTrue(t.closed())

    def test_message_over_the_size_limit_at_end_of_data(self):
        t, reply = self.send_raw(self.plain, "too big", message_text("too big", "x" * 76 + "\r\n") * 300 + ".\r\n")
        self.assertTrue(reply.startswith("552 5.3.4"), reply)
        self.assertNotIn("too big", self.subjects_queued())

    def test_a_loop_is_refused(self):
        hops = "".join("Received: from hop%d.example.net by hop%d.example.net; Mon, 23 Nov 2026 00:00:00 +0000\r\n"
                       % (i, i + 1) for i in range(51))
        t, reply = self.send_raw(self.plain, "looping", hops + message_text("looping") + ".\r\n")
        self.assertTrue(reply.startswith("554 5.4.6"), reply)
        self.assertNotIn("looping", self.subjects_queued())

    def test_smuggling_attempts_queue_nothing(self):
        for name, smuggled in (("bare LF", "\n.\n"), ("bare CR", "\r.\r"), ("LF then CRLF", "\n.\r\n")):
            with self.subTest(name):
                content = (message_text("outer " + name, "first part" + smuggled) +
                           "MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.jp>\r\nDATA\r\n" +
                           message_text("smuggled " + name, "evil\r\n") + ".\r\n")
                t, reply = self.send_raw(self.plain, "outer", content)
                self.assertTrue(reply.startswith("554 5.6.0"), reply)
                # The session goes on: the smuggled commands were data, not commands.
                self.assertTrue(t.command("NOOP").startswith("250"))
                queued = self.subjects_queued()
                self.assertNotIn("outer " + name, queued)
                self.assertNotIn("smuggled " + name, queued)

    def test_idle_client_gets_421(self):
        t = Talk(self.plain)
        self.addCleanup(t.close)
        started = time.monotonic()
        reply = t.reply()
        self.assertTrue(reply.startswith("421 4.4.2"), reply)
        self.assertGreaterEqual(time.monotonic() - started, 1.5)
        self.assertTrue(t.closed())

    def test_talking_before_the_greeting_is_refused(self):
        t = Talk(self.plain, greet=False)
        self.addCleanup(t.close)
        t.send("EHLO early.example.org\r\n")
        reply = t.reply()
        self.assertTrue(reply.startswith("554 5.5.0"), reply)
        self.assertTrue(t.closed())

    def test_sending_ahead_of_ehlo_is_refused(self):
        t = Talk(self.plain)
        self.addCleanup(t.close)
        t.send("EHLO client.example.org\r\nMAIL FROM:<sender@example.org>\r\n")
        reply = t.reply()
        self.assertTrue(reply.startswith("554 5.5.0"), reply)
        self.assertTrue(t.closed())

    def test_sending_content_ahead_of_354_is_refused(self):
        t = Talk(self.plain)
        self.addCleanup(t.close)
        t.command("EHLO client.example.org")
        t.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<rcpt@example.jp>\r\nDATA\r\n" +
               message_text("ahead of 354") + ".\r\n")
        self.assertTrue(t.reply().startswith("250"))
        self.assertTrue(t.reply().startswith("250"))
        reply = t.reply()
        self.assertTrue(reply.startswith("554 5.5.0"), reply)
        self.assertNotIn("ahead of 354", self.subjects_queued())

    def test_pipelined_transactions(self):
        t = Talk(self.plain)
        self.addCleanup(t.close)
        t.command("EHLO client.example.org")
        ids = []
        for n in range(2):
            t.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<a%d@example.jp>\r\nRCPT TO:<b%d@example.jp>\r\nDATA\r\n"
                   % (n, n))
            replies = [t.reply() for _ in range(4)]
            self.assertEqual([r[:3] for r in replies], ["250", "250", "250", "354"], replies)
            t.send(message_text("pipelined %d" % n) + ".\r\n")
            ids.append(self.queued_id(t.reply()))
        for qid in ids:
            resp = self.server.request("GET", "/v1/messages/" + qid)
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(len(resp.json["recipients"]), 2)

    def test_bdat(self):
        t = Talk(self.plain)
        self.addCleanup(t.close)
        t.command("EHLO client.example.org")
        first = message_text("chunked", "part one\r\n").encode()
        second = b"part two\r\n.not a terminator\r\n"
        t.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<rcpt@example.jp>\r\n" +
               b"BDAT %d\r\n" % len(first) + first + b"BDAT %d LAST\r\n" % len(second) + second)
        replies = [t.reply() for _ in range(4)]
        self.assertTrue(replies[2].startswith("250"), replies)
        qid = self.queued_id(replies[3])
        raw, msg = self.delivered(qid)
        self.assertEqual(msg["Subject"], "chunked")
        self.assertIn(b"part one\r\npart two\r\n.not a terminator\r\n", raw)

    def test_starttls_then_auth_plain(self):
        with smtplib.SMTP("127.0.0.1", self.starttls, timeout=10) as s:
            s.ehlo("client.example.org")
            s.starttls(context=self.client_context())
            s.ehlo("client.example.org")
            self.assertIn("auth", s.esmtp_features)
            self.assertIn("PLAIN", s.esmtp_features["auth"])
            s.user, s.password = USER, PASSWORD
            code, _ = s.auth("PLAIN", s.auth_plain)
            self.assertEqual(code, 235)
            s.mail("sender@example.org")
            s.rcpt("rcpt@example.jp")
            code, reply = s.data(message_text("tls plain"))
        qid = self.queued_id(reply)
        raw, msg = self.delivered(qid)
        received = msg.get_all("Received")[0]
        self.assertIn("with ESMTPSA id " + qid, received)
        self.assertRegex(received, r"\(using TLSv1\.[23] with cipher \S+")
        self.assertNotIn(USER, received)  # the user goes in only when received_auth_user is set
        resp = self.server.request("GET", "/v1/messages/" + qid)
        self.assertEqual(resp.status, 200, resp)

    def test_auth_login_on_submission(self):
        with smtplib.SMTP("127.0.0.1", self.submission, timeout=10) as s:
            s.ehlo("client.example.org")
            code, reply = s.mail("sender@example.org")
            self.assertEqual((code, reply[:5]), (530, b"5.7.0"))
            s.rset()
            s.starttls(context=self.client_context())
            s.ehlo("client.example.org")
            s.user, s.password = USER, PASSWORD
            code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
            self.assertEqual(code, 235)
            s.mail("sender@example.org")
            s.rcpt("rcpt@example.jp")
            code, reply = s.data(message_text("submission login"))
        self.assertEqual(code, 250, reply)
        self.delivered(self.queued_id(reply))

    def test_auth_refusals(self):
        t = Talk(self.starttls)
        self.addCleanup(t.close)
        t.command("EHLO client.example.org")
        reply = t.command("AUTH PLAIN AHRhYmJ5AHB1cnIgcHVyciA5")
        self.assertTrue(reply.startswith("538 5.7.11"), reply)
        with smtplib.SMTP("127.0.0.1", self.starttls, timeout=10) as s:
            s.starttls(context=self.client_context())
            s.ehlo("client.example.org")
            s.user, s.password = USER, "wrong"
            with self.assertRaises(smtplib.SMTPAuthenticationError) as caught:
                s.auth("PLAIN", s.auth_plain)
            self.assertEqual(caught.exception.smtp_code, 535)
            self.assertTrue(caught.exception.smtp_error.startswith(b"5.7.8"))

    def test_long_sasl_responses_are_read(self):
        # RFC 4954 4: a SASL response may be up to 12,288 octets, not 512 like a command.
        import base64
        with smtplib.SMTP("127.0.0.1", self.starttls, timeout=10) as s:
            s.starttls(context=self.client_context())
            s.ehlo("client.example.org")
            code, _ = s.docmd("AUTH", "PLAIN")
            self.assertEqual(code, 334)
            long_response = base64.b64encode(b"\0" + USER.encode() + b"\0" + b"x" * 3000).decode()
            self.assertGreater(len(long_response), 4000)
            code, reply = s.docmd(long_response)
            self.assertEqual(code, 535, reply)  # read and checked: a wrong password, not "line too long"
            code, _ = s.docmd("AUTH", "LOGIN")
            self.assertEqual(code, 334)
            code, reply = s.docmd(base64.b64encode(USER.encode() * 300).decode())
            self.assertEqual(code, 334, reply)  # the (long) user name taken; the password asked
            code, reply = s.docmd(base64.b64encode(b"y" * 9000).decode())
            self.assertEqual(code, 535, reply)
            code, _ = s.docmd("AUTH", "LOGIN")
            self.assertEqual(code, 334)
            code, reply = s.docmd(base64.b64encode(b"z" * 9300).decode())  # past 12,288 octets as base64
            self.assertEqual(code, 500, reply)
            self.assertEqual(s.docmd("NOOP")[0], 250)  # the exchange ended; the session goes on

    def test_state_is_forgotten_after_starttls(self):
        t = Talk(self.starttls)
        self.addCleanup(t.close)
        t.command("EHLO client.example.org")
        self.assertTrue(t.command("STARTTLS").startswith("220"))
        tls = self.client_context().wrap_socket(t.sock, server_hostname="localhost")
        t.sock = tls
        self.assertTrue(t.command("MAIL FROM:<sender@example.org>").startswith("503 5.5.1"))
        ehlo = t.command("EHLO client.example.org")
        self.assertNotIn("STARTTLS", ehlo)
        self.assertIn("AUTH PLAIN LOGIN", ehlo)

    def test_commands_sent_with_starttls_are_refused(self):
        # CVE-2011-0411: plaintext sent after STARTTLS must never be run inside the TLS session.
        t = Talk(self.starttls)
        self.addCleanup(t.close)
        t.command("EHLO client.example.org")
        t.send("STARTTLS\r\nRSET\r\n")
        reply = t.reply()
        self.assertTrue(reply.startswith("554 5.5.0"), reply)

    def test_implicit_tls(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.implicit, timeout=10, context=self.client_context()) as s:
            s.ehlo("client.example.org")
            self.assertNotIn("starttls", s.esmtp_features)
            s.mail("sender@example.org")
            s.rcpt("rcpt@example.jp")
            code, reply = s.data(message_text("implicit tls"))
        raw, msg = self.delivered(self.queued_id(reply))
        self.assertIn("with ESMTPS id", msg.get_all("Received")[0])

    def test_swaks_pipelined(self):
        proc = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.plain), "--pipeline",
                               "--from", "sender@example.org", "--to", "rcpt@example.jp",
                               "--helo", "swaks.example.org", "--header", "Subject: by swaks"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        line = [l for l in proc.stdout.splitlines() if "queued as" in l][0]
        raw, msg = self.delivered(line.rsplit(" ", 1)[1])
        self.assertEqual(msg["Subject"], "by swaks")

    def test_swaks_starttls_and_auth(self):
        proc = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.submission), "-tls",
                               "--auth", "LOGIN", "--auth-user", USER, "--auth-password", PASSWORD,
                               "--from", "sender@example.org", "--to", "rcpt@example.jp",
                               "--header", "Subject: swaks tls auth"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("235 2.7.0", proc.stdout)
        line = [l for l in proc.stdout.splitlines() if "queued as" in l][0]
        self.delivered(line.rsplit(" ", 1)[1])


class RelayDenied(SmtpIntakeBase):
    """127.0.0.1 is not in relayhosts: RCPT is refused until the client authenticates."""
    extra_etc = {"relayhosts": {"open-relay": 0, "relayhosts": ["198.51.100.0/24"]}}

    def test_unauthenticated_rcpt_is_relay_denied(self):
        t = Talk(self.plain)
        self.addCleanup(t.close)
        t.command("EHLO client.example.org")
        t.command("MAIL FROM:<sender@example.org>")
        reply = t.command("RCPT TO:<rcpt@example.jp>")
        self.assertTrue(reply.startswith("554 5.7.1 Relay access denied"), reply)

    def test_authenticated_client_may_relay(self):
        with smtplib.SMTP("127.0.0.1", self.starttls, timeout=10) as s:
            s.starttls(context=self.client_context())
            s.ehlo("client.example.org")
            s.user, s.password = USER, PASSWORD
            s.auth("PLAIN", s.auth_plain)
            s.mail("sender@example.org")
            code, _ = s.rcpt("rcpt@example.jp")
            self.assertEqual(code, 250)


class DeliveredToPeer(HainekoTestCase):
    """Taken by SMTP, relayed by the queue to an aiosmtpd peer with the header intact."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_aiosmtpd()
        cls.peer = cls.class_peer(AioPeer())
        etc = {"mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.peer.port}}}
        cls.server = cls.make_server(etc=etc, args=["--smtp", "127.0.0.1:%d" % free_port()])

    def test_header_and_body_arrive_intact(self):
        port = int(self.server.args[1].rsplit(":", 1)[1])
        body = message_text("to the peer", "kept\r\n", "X-Trace: one\r\nX-Trace: two\r\n")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo("client.example.org")
            s.mail("sender@example.org")
            s.rcpt("rcpt@example.jp")
            code, reply = s.data(body)
        self.assertEqual(code, 250, reply)
        got = self.peer.wait_for_rcpt("rcpt@example.jp")
        self.assertEqual(len(got), 1, got)
        msg = email.message_from_bytes(got[0].content, policy=email.policy.default)
        self.assertEqual(msg.get_all("X-Trace"), ["one", "two"])
        self.assertEqual(msg["Subject"], "to the peer")
        self.assertIn("(Haineko) with ESMTP id", msg.get_all("Received")[0])
        self.assertEqual(got[0].mail_from, "sender@example.org")


class DsnParameters(HainekoTestCase):
    """RET, ENVID, NOTIFY and ORCPT are kept with the message and shape its bounce."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_aiosmtpd()
        refuse = lambda address, n: "550 5.1.1 No such user" if address.startswith("bounce-") else None
        cls.peer = cls.class_peer(AioPeer(rcpt_hook=refuse))
        etc = {"mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.peer.port}}}
        cls.server = cls.make_server(etc=etc, smtp_listen=[{"mode": "relay"}])

    def send(self, mail_options, rcpt, rcpt_options, subject):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=10) as s:
            s.ehlo("client.example.org")
            s.mail("sender@example.org", mail_options)
            s.rcpt(rcpt, rcpt_options)
            code, reply = s.data(message_text(subject))
        self.assertEqual(code, 250, reply)
        return reply.decode().rsplit(" ", 1)[1]

    def events(self, qid):
        resp = self.server.request("GET", "/v1/messages/" + qid)
        return [e["type"] for e in resp.json.get("events", [])]

    def test_bounce_carries_envid_orcpt_and_the_whole_message(self):
        qid = self.send(["RET=FULL", "ENVID=ENV+2B42"], "bounce-full@example.jp",
                        ["NOTIFY=FAILURE", "ORCPT=rfc822;orig@example.jp"], "dsn full")
        got = self.peer.wait_for_rcpt("sender@example.org")
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0].mail_from, "<>")
        report = got[0].content
        self.assertIn(b"Original-Envelope-Id: ENV+42", report)
        self.assertIn(b"Original-Recipient: rfc822;orig@example.jp", report)
        self.assertIn(b"Final-Recipient: rfc822; bounce-full@example.jp", report)
        self.assertIn(b"Content-Type: message/rfc822", report)
        self.assertIn(b"Hello from SMTP.", report)
        self.assertIn("dsn-sent", self.events(qid))

    def test_notify_never_sends_no_bounce(self):
        qid = self.send([], "bounce-never@example.jp", ["NOTIFY=NEVER"], "dsn never")
        self.assertTrue(wait_for(lambda: "bounced" in self.events(qid), timeout=10), self.events(qid))
        time.sleep(0.5)
        self.assertNotIn("dsn-sent", self.events(qid))


class ListenerErrors(unittest.TestCase):

    def test_stop_says_421_to_an_idle_session_and_exits_0(self):
        srv = Haineko(smtp_listen=[{"mode": "relay"}])
        self.addCleanup(srv.cleanup)
        srv.start()
        t = Talk(srv.smtp_port)
        self.addCleanup(t.close)
        t.command("EHLO client.example.org")
        srv.signal(signal.SIGTERM)
        reply = t.reply()
        self.assertTrue(reply.startswith("421 4.3.2"), reply)
        self.assertEqual(srv.stop(), 0, srv.stderr_text()[-2000:])

    def test_taken_port_exits_2_and_says_why(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        self.addCleanup(holder.close)
        port = holder.getsockname()[1]
        srv = Haineko()
        self.addCleanup(srv.cleanup)
        env = {"HAINEKO_ROOT": srv.root}
        proc = run_ctl("run", "-p", str(free_port()), "--smtp", "127.0.0.1:%d" % port, env=env, timeout=20)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("cannot listen on 127.0.0.1:%d" % port, proc.stderr + proc.stdout)

    def test_tls_listener_without_certificate_is_a_config_error(self):
        srv = Haineko(etc={"haineko.cf": {"smtp": {"listen": [{"address": "127.0.0.1:%d" % free_port(),
                                                                  "tls": "starttls"}]}}})
        self.addCleanup(srv.cleanup)
        proc = run_ctl("run", "-p", str(free_port()), env={"HAINEKO_ROOT": srv.root}, timeout=20)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("tls_cert", proc.stderr)

    def test_setup_writes_a_commented_example_that_loads(self):
        srv = Haineko(use_defaults=False)
        self.addCleanup(srv.cleanup)
        self.assertEqual(run_ctl("setup", "--dest", srv.root, "--force").returncode, 0)
        path = os.path.join(srv.root, "etc", "haineko.cf")
        with open(path) as f:
            text = f.read()
        self.assertIn("# smtp:", text)
        # Uncommented, with the TLS lines made to fit this tree, the example loads.
        tls = TlsFiles()
        self.addCleanup(tls.cleanup)
        lines = []
        in_example = False
        for line in text.splitlines():
            if line.startswith("# smtp:"):
                in_example = True
            if in_example and line.startswith("#"):
                line = line[2:]
                line = line.replace("'0.0.0.0:587'", "'127.0.0.1:%d'" % free_port())
                line = line.replace("'127.0.0.1:2525'", "'127.0.0.1:%d'" % free_port())
                line = line.replace("'etc/tls/cert.pem'", "'%s'" % tls.server_cert)
                line = line.replace("'etc/tls/key.pem'", "'%s'" % tls.server_key)
            lines.append(line)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        proc = run_ctl("check", env={"HAINEKO_ROOT": srv.root}, timeout=20)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.count("smtp listener 127.0.0.1:"), 2, proc.stdout)
        self.assertIn(", tls starttls", proc.stdout)

    def test_bad_listen_address(self):
        srv = Haineko(etc={"haineko.cf": {"smtp": {"listen": [{"address": "localhost"}]}}})
        self.addCleanup(srv.cleanup)
        proc = run_ctl("check", env={"HAINEKO_ROOT": srv.root}, timeout=20)
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertIn("host:port", proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
