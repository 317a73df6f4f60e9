"""The LMTP mailer (RFC 2033) and the inbound listener in front of a real Dovecot LMTP server
(dovecot-lmtpd, started here on a free port with its own maildirs): local recipients land in
their mailbox (read back with doveadm), unknown ones are refused at RCPT, a delivery that
fails for one recipient only is delivered to the others, the Unix socket works as TCP does,
and `recipients: 'backend'` asks Dovecot at RCPT (cached; 451 4.4.3 when it cannot be asked)."""

import unittest

from harness import HOSTNAME, HainekoTestCase
from peers import AioPeer, DovecotLmtp, smtp_client, wait_for

BODY = (b"From: someone@sender.example\r\nTo: neko@example.jp\r\nSubject: via lmtp\r\n\r\n"
        b"hello from the inbound listener, with a body longer than the small quota\r\n")


class DovecotCase(HainekoTestCase):
    """A Dovecot for the class (users: DovecotLmtp's), and a server whose inbound listener
    takes the etc/inbound that inbound_table() makes for it."""
    start_server = False
    users = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = DovecotLmtp(cls.users)
        etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME}, "smtp": {"greet_pause": 0},
                              "queue": {"min_backoff": 1, "max_backoff": 2}},
               "inbound": cls.inbound_table()}
        cls.server = cls.make_server(etc=etc, smtp_listen=[{"mode": "inbound"}])
        cls.inbound = cls.server.smtp_ports[0]

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.dovecot.close()


class InboundToDovecot(DovecotCase):
    users = {"neko@example.jp": None, "kijitora@example.jp": 10, "mike@example.net": None,
             "tora@example.org": None}

    @classmethod
    def inbound_table(cls):
        lmtp = {"mailer": "LMTP", "host": "127.0.0.1", "port": cls.dovecot.port}
        return {"example.jp": dict(lmtp, recipients=["neko", "kijitora"]),
                "example.net": dict(lmtp, recipients="backend"),
                "example.org": {"mailer": "LMTP", "socket": cls.dovecot.socket}}

    def session(self):
        return smtp_client(self, self.inbound, helo="mx.sender.example")

    def send(self, rcpts, body=BODY):
        s = self.session()
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        for r in rcpts:
            self.assertEqual(s.rcpt(r)[0], 250, r)
        code, text = s.data(body)
        self.assertEqual(code, 250, text)
        s.quit()
        return text.decode().rsplit(" ", 1)[1].strip()

    def settled(self, qid):
        seen = {}

        def done():
            resp = self.server.request("GET", "/v1/messages/" + qid)
            seen["json"] = resp.json
            return resp.status == 200 and all(r["status"] in ("delivered", "bounced") for r in resp.json["recipients"])

        self.assertTrue(wait_for(done, 20), "not settled: %r\n%s" % (seen.get("json"), self.dovecot.log_text()))
        return {r["rcpt"]: r for r in seen["json"]["recipients"]}

    def in_mailbox(self, address, text):
        return wait_for(lambda: any(text in m for m in self.dovecot.messages(address)), 10)

    def test_delivered_into_the_mailbox_over_tcp(self):
        qid = self.send(["neko@example.jp"])
        rcpts = self.settled(qid)
        self.assertEqual(rcpts["neko@example.jp"]["status"], "delivered")
        self.assertTrue(self.in_mailbox("neko@example.jp", "hello from the inbound listener"))
        message = [m for m in self.dovecot.messages("neko@example.jp") if "via lmtp" in m][0]
        self.assertIn("by " + HOSTNAME, message)  # our Received: field went in before Dovecot's
        self.assertIn("with LMTP", message)

    def test_unknown_recipient_refused_at_rcpt_and_relaying_denied(self):
        s = self.session()
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        self.assertEqual(s.rcpt("nobody@example.jp"), (550, b"5.1.1 Recipient address rejected: User unknown"))
        self.assertEqual(s.rcpt("someone@elsewhere.example"), (554, b"5.7.1 Relay access denied"))
        s.quit()

    def test_a_delivery_that_fails_for_one_recipient_only(self):
        # kijitora's mailbox is over its quota: Dovecot takes the message for neko and answers
        # 552 5.2.2 for kijitora after the one DATA.
        qid = self.send(["neko@example.jp", "kijitora@example.jp"],
                        BODY.replace(b"via lmtp", b"partly"))
        rcpts = self.settled(qid)
        self.assertEqual(rcpts["neko@example.jp"]["status"], "delivered")
        self.assertEqual(rcpts["kijitora@example.jp"]["status"], "bounced")
        reply = rcpts["kijitora@example.jp"]["last_reply"]
        self.assertEqual(str(reply["code"]), "552")
        self.assertEqual(reply["dsn"], "5.2.2")
        self.assertTrue(self.in_mailbox("neko@example.jp", "partly"))
        self.assertFalse(any("partly" in m for m in self.dovecot.messages("kijitora@example.jp")))

    def test_delivered_over_the_unix_socket(self):
        qid = self.send(["tora@example.org"], BODY.replace(b"via lmtp", b"by socket"))
        self.assertEqual(self.settled(qid)["tora@example.org"]["status"], "delivered")
        self.assertTrue(self.in_mailbox("tora@example.org", "by socket"))

    def test_backend_recipients_are_asked_at_rcpt(self):
        s = self.session()
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        self.assertEqual(s.rcpt("mike@example.net")[0], 250)
        code, text = s.rcpt("ghost@example.net")
        self.assertEqual((code, text[:5]), (550, b"5.1.1"))
        s.quit()  # (example.net has no list: only Dovecot could have refused ghost)


class BackendThatCannotBeAsked(DovecotCase):
    """The backend goes away: a recipient it confirmed within ten minutes is still taken (the
    answer is cached); one it never confirmed gets 451 4.4.3, and nothing is queued for it."""
    users = {"mike@example.net": None}

    @classmethod
    def inbound_table(cls):
        return {"example.net": {"mailer": "LMTP", "host": "127.0.0.1", "port": cls.dovecot.port,
                                "recipients": "backend", "timeout": 5}}

    def test_cached_then_temporary(self):
        s = smtp_client(self, self.inbound, helo="mx.sender.example")
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        self.assertEqual(s.rcpt("mike@example.net")[0], 250)
        s.rset()
        self.dovecot.stop()
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        self.assertEqual(s.rcpt("mike@example.net")[0], 250)  # from the cache
        self.assertEqual(s.rcpt("newcomer@example.net"),
                         (451, b"4.4.3 Recipient address cannot be verified now, try again later"))
        s.quit()
        self.server.wait_log("newcomer@example.net could not be verified by its backend")


class SmtpBackendProbe(HainekoTestCase):
    """recipients: 'backend' on an ESMTP route asks that SMTP server at RCPT."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        def known(address, nth):
            if address.startswith("mike@") or address.startswith("Mike@"):
                return None
            if address.startswith("full@"):
                return "552 5.2.2 mailbox full"
            return "550 5.1.1 no such mailbox"
        cls.backend = AioPeer(rcpt_hook=known).start()
        etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME}, "smtp": {"greet_pause": 0}},
               "inbound": {"example.net": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.backend.port,
                                           "recipients": "backend"}}}
        cls.server = cls.make_server(etc=etc, smtp_listen=[{"mode": "inbound"}])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.backend.stop()

    def test_asked_once_then_cached(self):
        s = smtp_client(self, self.server.smtp_ports[0], helo="mx.sender.example")
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        self.assertEqual(s.rcpt("mike@example.net")[0], 250)
        self.assertEqual(s.rcpt("ghost@example.net"), (550, b"5.1.1 Recipient address rejected: User unknown"))
        self.assertEqual(s.rcpt("mike@example.net")[0], 250)
        s.quit()
        # mike once, ghost once: the second mike came from the cache
        self.assertEqual(dict(self.backend.rcpt_counts), {"mike@example.net": 1, "ghost@example.net": 1})

    def test_other_refusals_are_passed_on_and_not_kept(self):
        s = smtp_client(self, self.server.smtp_ports[0], helo="mx.sender.example")
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        for _ in range(2):
            self.assertEqual(s.rcpt("full@example.net"),
                             (552, b"5.2.2 Recipient address rejected by the mailbox server"))
        s.quit()
        # a full mailbox may be emptied: it is asked each time
        self.assertEqual(self.backend.rcpt_counts["full@example.net"], 2)

    def test_the_local_part_keeps_its_case_in_the_cache(self):
        s = smtp_client(self, self.server.smtp_ports[0], helo="mx.sender.example")
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        self.assertEqual(s.rcpt("Mike@EXAMPLE.net")[0], 250)
        self.assertEqual(s.rcpt("Mike@example.NET")[0], 250)
        s.quit()
        # the domain's case folded, the local part's kept: one key, asked once
        counts = {k.split("@")[0]: v for k, v in self.backend.rcpt_counts.items() if k.lower().startswith("mike@")}
        self.assertEqual(counts.get("Mike"), 1)


if __name__ == "__main__":
    unittest.main()
