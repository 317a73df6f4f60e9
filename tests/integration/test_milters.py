"""Milters (issue 10) on every intake, with real filters: a libmilter test filter built in
tests/ (its behaviour follows the Subject), OpenDKIM signing with a key from
opendkim-genkey (the signature verified with python3-dkim, given the public key through its
DNS hook), and filters that are down or too slow, following on_error."""

import email
import email.policy
import json
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest

from harness import HAINEKOCTL, HOSTNAME, HainekoTestCase, free_port, run_ctl
from peers import AioPeer, require_aiosmtpd, stop_process, wait_for

TEST_MILTER = os.environ.get("TEST_MILTER") or os.path.join(os.path.dirname(HAINEKOCTL), "tests", "test_milter")
OPENDKIM = shutil.which("opendkim") or "/usr/sbin/opendkim"
OPENDKIM_GENKEY = shutil.which("opendkim-genkey") or "/usr/sbin/opendkim-genkey"


def pw_line(user, password):
    proc = run_ctl("pw", "-u", user, "-p", password)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def wait_port(port, timeout=10):
    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    return wait_for(up, timeout=timeout)


class TestMilter:
    """tests/tools/test_milter on a free port."""

    def __init__(self):
        if not os.access(TEST_MILTER, os.X_OK):
            raise RuntimeError("test_milter not built at %s (libmilter-dev)" % TEST_MILTER)
        self.port = free_port()
        self.socket = "inet:%d@127.0.0.1" % self.port
        self.proc = subprocess.Popen([TEST_MILTER, self.socket], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("test_milter did not listen on %d" % self.port)

    def stop(self):
        stop_process(self.proc)


def message_text(subject, body="Hello through the filters.\r\n", to="rcpt@example.jp"):
    return "From: Sender <sender@example.org>\r\nTo: %s\r\nSubject: %s\r\n\r\n%s" % (to, subject, body)


class MilterBase(HainekoTestCase):
    start_server = False
    milter_options = {"timeout": 2, "on_error": "tempfail"}
    filters = 1
    by_name = False  # name the filters' host "localhost" (resolved) instead of 127.0.0.1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.milters = [cls.class_peer(TestMilter()) for _ in range(cls.filters)]
        cls.milter = cls.milters[0]
        milters = [dict(cls.milter_options, socket=m.socket.replace("@127.0.0.1", "@localhost") if cls.by_name
                        else m.socket) for m in cls.milters]
        conf = {"smtpd": {"hostname": HOSTNAME}, "milters": milters, "smtp": {"auth_requires_tls": 0}}
        cls.server = cls.make_server(etc={"haineko.cf": conf, "password": pw_line("tabby", "purr purr 9")},
                                     smtp_listen=[{"mode": "relay"}])

    def smtp_send(self, subject, rcpts=("rcpt@example.jp",), body="Hello through the filters.\r\n"):
        """(code, reply) at the end of data, and the RCPT replies."""
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=15) as s:
            s.ehlo("client.example.org")
            s.mail("sender@example.org")
            rcpt_replies = [s.rcpt(r) for r in rcpts]
            if not any(code == 250 for code, _ in rcpt_replies):
                return None, None, rcpt_replies
            code, reply = s.data(message_text(subject, body, rcpts[0]))
        return code, reply.decode(), rcpt_replies

    def queued(self, reply):
        self.assertIn("queued as ", reply)
        return reply.rsplit(" ", 1)[1]

    def state(self, qid):
        resp = self.server.request("GET", "/v1/messages/" + qid)
        return resp.status, resp.json

    def delivered(self, qid):
        got = {}

        def done():
            status, j = self.state(qid)
            got["j"] = j
            return status == 200 and j["status"] == "delivered"

        self.assertTrue(wait_for(done, timeout=10), got.get("j"))
        with open(got["j"]["recipients"][0]["last_reply"]["message"][0], "rb") as f:
            raw = f.read()
        return raw, email.message_from_bytes(raw, policy=email.policy.default)


class SmtpThroughMilter(MilterBase):

    def test_filter_sees_the_message_and_its_macros(self):
        code, reply, _ = self.smtp_send("plain")
        self.assertEqual(code, 250, reply)
        qid = self.queued(reply)
        raw, msg = self.delivered(qid)
        self.assertEqual(msg["X-Test-Milter"], "seen")
        macros = msg["X-Test-Milter-Macros"]
        for expected in ("j=" + HOSTNAME, "daemon_name=haineko", "client_addr=127.0.0.1", "i=" + qid,
                         "mail_addr=sender@example.org"):
            self.assertIn(expected, macros)

    def test_auth_login_user_reaches_the_filter(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=15) as s:
            s.ehlo("client.example.org")
            s.user, s.password = "tabby", "purr purr 9"
            code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
            self.assertEqual(code, 235)
            s.mail("sender@example.org")
            s.rcpt("rcpt@example.jp")
            code, reply = s.data(message_text("after auth login"))
        raw, msg = self.delivered(self.queued(reply.decode()))
        self.assertIn("auth_authen=tabby", msg["X-Test-Milter-Macros"])

    def test_rcpt_refused_by_the_filter(self):
        code, reply, rcpts = self.smtp_send("one refused", ("milter-refuses@example.jp", "rcpt@example.jp"))
        self.assertEqual(rcpts[0], (550, b"5.1.1 No such user here (test milter)"))
        self.assertEqual(rcpts[1][0], 250)
        _, j = self.state(self.queued(reply))
        self.assertEqual([r["rcpt"] for r in j["recipients"]], ["rcpt@example.jp"])

    def test_reject_and_tempfail_at_end_of_data_queue_nothing(self):
        for subject, expected in (("milter reject", (550, "5.7.1 Rejected by the test milter")),
                                  ("milter tempfail", (451, "4.7.1 Try again later (test milter)"))):
            with self.subTest(subject):
                code, reply, _ = self.smtp_send(subject)
                self.assertEqual((code, reply), expected)
                resp = self.server.request("GET", "/v1/messages?limit=1000")
                self.assertNotIn(subject, [m["subject"] for m in resp.json["messages"]])

    def test_discard_answers_250_and_keeps_nothing(self):
        code, reply, _ = self.smtp_send("milter discard")
        self.assertEqual(code, 250, reply)
        status, _ = self.state(self.queued(reply))
        self.assertEqual(status, 404)

    def test_quarantine_holds_the_message(self):
        code, reply, _ = self.smtp_send("milter quarantine")
        qid = self.queued(reply)
        time.sleep(0.5)
        status, j = self.state(qid)
        self.assertEqual(status, 200)
        self.assertEqual([r["status"] for r in j["recipients"]], ["held"])
        resp = self.server.request("POST", "/v1/messages/%s/release" % qid, body=b"{}",
                                   headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, 200, resp)
        self.delivered(qid)

    def test_body_replaced_and_headers_changed(self):
        code, reply, _ = self.smtp_send("milter replace body")
        raw, msg = self.delivered(self.queued(reply))
        self.assertTrue(raw.endswith(b"\r\n\r\nBody replaced by the test milter.\r\n"), raw[-200:])
        code, reply, _ = self.smtp_send("milter change header")
        raw, msg = self.delivered(self.queued(reply))
        self.assertEqual(msg["Subject"], "changed by the test milter")
        self.assertTrue(raw.startswith(b"X-Inserted: first\r\n"), raw[:200])

    def test_recipients_added_and_deleted(self):
        code, reply, _ = self.smtp_send("milter add rcpt")
        _, j = self.state(self.queued(reply))
        self.assertEqual([r["rcpt"] for r in j["recipients"]], ["added@example.jp"])


class MilterByHostName(MilterBase):
    """inet:PORT@localhost: the host name is resolved (within the filter's timeout)."""
    by_name = True

    def test_filter_reached_through_a_resolved_name(self):
        code, reply, _ = self.smtp_send("plain")
        self.assertEqual(code, 250, reply)
        raw, msg = self.delivered(self.queued(reply))
        self.assertEqual(msg["X-Test-Milter"], "seen")


class TwoMilters(MilterBase):
    """Two filters in a row: each sees what the one before made."""
    filters = 2

    def test_each_replaces_the_body_and_adds_its_headers(self):
        code, reply, _ = self.smtp_send("milter replace body", body="original\r\n")
        raw, msg = self.delivered(self.queued(reply))
        self.assertTrue(raw.endswith(b"\r\n\r\nBody replaced by the test milter.\r\n"), raw[-200:])
        self.assertEqual(raw.count(b"Body replaced"), 1)
        self.assertEqual(msg.get_all("X-Test-Milter"), ["seen", "seen"])


class HttpThroughMilter(MilterBase):

    def post_v1(self, subject, to="rcpt@example.jp"):
        body = json.dumps({"from": "sender@example.org", "to": to, "subject": subject, "text": "via v1"})
        return self.server.request("POST", "/v1/messages", body=body.encode(),
                                   headers={"Content-Type": "application/json"})

    def submit(self, subject, rcpt=("rcpt@example.jp",)):
        payload = {"ehlo": "[127.0.0.1]", "mail": "sender@example.org", "rcpt": list(rcpt),
                   "header": {"from": "sender@example.org", "subject": subject}, "body": "via submit"}
        return self.server.submit(payload)

    def test_v1_reject_is_422(self):
        resp = self.post_v1("milter reject")
        self.assertEqual(resp.status, 422, resp)
        self.assertEqual(resp.json["error"]["code"], "rejected-by-filter")
        self.assertIn("550 5.7.1 Rejected by the test milter", resp.json["error"]["message"])

    def test_v1_tempfail_is_503_with_retry_after(self):
        resp = self.post_v1("milter tempfail")
        self.assertEqual(resp.status, 503, resp)
        self.assertEqual(resp.json["error"]["code"], "filter-tempfail")
        self.assertIsNotNone(resp.header("Retry-After"))

    def test_v1_rcpt_refused_names_the_field(self):
        resp = self.post_v1("one refused", to=["rcpt@example.jp", "milter-refuses@example.jp"])
        self.assertEqual(resp.status, 422, resp)
        self.assertIn("milter-refuses@example.jp", resp.json["error"]["message"])

    def test_v1_message_is_filtered_and_quarantine_holds(self):
        resp = self.post_v1("v1 plain")
        self.assertEqual(resp.status, 202, resp)
        raw, msg = self.delivered(resp.json["id"])
        self.assertEqual(msg["X-Test-Milter"], "seen")
        resp = self.post_v1("milter quarantine")
        self.assertEqual(resp.status, 202, resp)
        time.sleep(0.5)
        _, j = self.state(resp.json["id"])
        self.assertEqual([r["status"] for r in j["recipients"]], ["held"])

    def test_submit_reject_is_that_recipients_error(self):
        resp = self.submit("milter reject", rcpt=["rcpt@example.jp"])
        self.assertEqual(resp.status, 200, resp)
        entry = resp.json["response"][0]
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(str(entry["code"]), "550")
        self.assertEqual(entry["dsn"], "5.7.1")
        self.assertEqual(entry["command"], "DATA")
        self.assertEqual(entry["message"], ["Rejected by the test milter"])

    def test_submit_rcpt_refusal_is_per_recipient(self):
        resp = self.submit("split", rcpt=["milter-refuses@example.jp", "rcpt@example.jp"])
        self.assertEqual(resp.status, 200, resp)
        by_rcpt = {e["rcpt"]: e for e in resp.json["response"]}
        self.assertEqual(by_rcpt["milter-refuses@example.jp"]["command"], "RCPT")
        self.assertEqual(str(by_rcpt["milter-refuses@example.jp"]["code"]), "550")
        self.assertEqual(by_rcpt["rcpt@example.jp"]["error"], 0, by_rcpt)
        got = self.server.messages_to("rcpt@example.jp")
        self.assertTrue(any(m["X-Test-Milter"] == "seen" and m["Subject"] == "split" for m in got))


class BrokenMilterBase(HainekoTestCase):
    """A milter socket nobody listens on, with one on_error each."""
    start_server = False
    on_error = "tempfail"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        milters = [{"socket": "inet:%d@127.0.0.1" % free_port(), "timeout": 1, "on_error": cls.on_error}]
        cls.server = cls.make_server(etc={"haineko.cf": {"smtpd": {"hostname": HOSTNAME}, "milters": milters}},
                                     smtp_listen=[{"mode": "relay"}])

    def mail_reply(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=15) as s:
            s.ehlo("client.example.org")
            return s.mail("sender@example.org")


class MilterDownTempfail(BrokenMilterBase):
    on_error = "tempfail"

    def test_mail_is_tempfailed(self):
        code, reply = self.mail_reply()
        self.assertEqual((code, reply), (451, b"4.7.1 Service unavailable - try again later"))


class MilterDownReject(BrokenMilterBase):
    on_error = "reject"

    def test_mail_is_rejected(self):
        code, reply = self.mail_reply()
        self.assertEqual((code, reply), (550, b"5.7.1 Command rejected"))


class MilterDownAccept(BrokenMilterBase):
    on_error = "accept"

    def test_mail_goes_through_unfiltered(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=15) as s:
            s.ehlo("client.example.org")
            s.mail("sender@example.org")
            s.rcpt("rcpt@example.jp")
            code, reply = s.data(message_text("unfiltered"))
        self.assertEqual(code, 250, reply)


class MilterTooSlow(MilterBase):
    milter_options = {"timeout": 1, "on_error": "tempfail"}

    def test_timeout_follows_on_error(self):
        started = time.monotonic()
        code, reply, _ = self.smtp_send("milter slow")
        self.assertEqual(code, 451, reply)
        self.assertLess(time.monotonic() - started, 3)
        # The next session gets a fresh connection to the filter.
        code, reply, _ = self.smtp_send("after the slow one")
        self.assertEqual(code, 250, reply)


def dkim_public_key(txt_path):
    with open(txt_path) as f:
        return "".join(re.findall(r'"([^"]*)"', f.read())).encode()


class OpenDkimSigns(HainekoTestCase):
    """OpenDKIM as a real signing milter; the signature checked at an aiosmtpd peer."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_aiosmtpd()
        for tool in (OPENDKIM, OPENDKIM_GENKEY):
            if not os.access(tool, os.X_OK):
                raise RuntimeError("%s is missing (opendkim, opendkim-tools)" % tool)
        cls.dir = tempfile.mkdtemp(prefix="haineko-dkim-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        subprocess.run([OPENDKIM_GENKEY, "-D", cls.dir, "-d", "example.org", "-s", "test", "-b", "2048"],
                       check=True, capture_output=True, timeout=60)
        port = free_port()
        conf = os.path.join(cls.dir, "opendkim.conf")
        with open(conf, "w") as f:
            f.write("Domain example.org\nSelector test\nKeyFile %s/test.private\nSocket inet:%d@127.0.0.1\n"
                    "Mode sv\nCanonicalization relaxed/simple\nBackground no\nSyslog no\nRequireSafeKeys no\n"
                    "PidFile %s/opendkim.pid\nInternalHosts 127.0.0.1\nUserID %s\n"
                    % (cls.dir, port, cls.dir, pwd.getpwuid(os.getuid()).pw_name))
        os.chmod(os.path.join(cls.dir, "test.private"), 0o600)
        log = os.path.join(cls.dir, "opendkim.log")
        with open(log, "wb") as out:
            cls.dkim = subprocess.Popen([OPENDKIM, "-f", "-x", conf], stdout=out, stderr=out)
        cls.addClassCleanup(stop_process, cls.dkim)
        if not wait_port(port):
            with open(log, "rb") as f:
                raise RuntimeError("opendkim did not listen on %d: %r" % (port, f.read(2000)))
        cls.peer = cls.class_peer(AioPeer())
        etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME},
                              "milters": [{"socket": "inet:%d@127.0.0.1" % port, "timeout": 10}]},
               "mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.peer.port}}}
        cls.server = cls.make_server(etc=etc, smtp_listen=[{"mode": "relay"}])
        cls.public_key = dkim_public_key(os.path.join(cls.dir, "test.txt"))

    def verify(self, raw):
        import dkim  # python3-dkim

        def dns(name, timeout=5):
            return self.public_key if name == b"test._domainkey.example.org." else None

        return dkim.verify(raw, dnsfunc=dns)

    def test_smtp_message_is_signed_and_verifies(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=15) as s:
            s.ehlo("client.example.org")
            s.mail("sender@example.org")
            s.rcpt("rcpt@example.jp")
            code, reply = s.data(message_text("signed by opendkim", "Line one.\r\nLine two.\r\n"))
        self.assertEqual(code, 250, reply)
        got = self.peer.wait_for_rcpt("rcpt@example.jp")
        self.assertEqual(len(got), 1)
        raw = got[0].content
        self.assertIn(b"DKIM-Signature:", raw)
        self.assertIn(b"d=example.org", raw)
        self.assertTrue(self.verify(raw), raw[:1500])
        tampered = raw.replace(b"Line two.", b"Line 2.")
        self.assertFalse(self.verify(tampered))

    def test_v1_message_is_signed_and_verifies(self):
        body = json.dumps({"from": "sender@example.org", "to": "v1@example.jp", "subject": "v1 signed",
                           "text": "Signed through the queue."})
        resp = self.server.request("POST", "/v1/messages", body=body.encode(),
                                   headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, 202, resp)
        got = self.peer.wait_for_rcpt("v1@example.jp")
        self.assertTrue(self.verify(got[0].content), got[0].content[:1500])


if __name__ == "__main__":
    unittest.main()
