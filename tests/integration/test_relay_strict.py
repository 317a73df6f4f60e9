"""Odd positive replies are never a delivery: an SMTP peer that answers a stage with the
wrong positive reply (a 250 greeting, 250 to AUTH LOGIN or STARTTLS, 354 to MAIL, 334 to
RCPT, 250 to DATA, 354 to the final dot) makes that recipient an error (4xx or 5xx) with
that stage as `command`. Scripted peers misbehave on purpose; Postfix's smtp-sink (which
answers AUTH with 250) is the real one; well-behaved scripted peers are the control."""

import email
import email.policy
import unittest

from harness import HOSTNAME, HainekoTestCase, message
from peers import ScriptedSmtpPeer, SmtpSink, TlsFiles

CREDENTIALS = {"username": "neko", "password": "kijitora-9"}

# domain -> (replies that misbehave, EHLO keywords, extra route keys, expected command)
WRONG = {
    "greeting.example.jp": ({"greeting": "250 scripted.example.net ESMTP"}, ("8BITMIME",), {}, "CONN"),
    "auth.example.jp": ({"AUTH": "250 2.0.0 Ok"}, ("8BITMIME", "AUTH LOGIN"),
                        {"auth": "scripted", "auth_plaintext": 1}, "AUTH"),
    "starttls.example.jp": ({"STARTTLS": "250 2.0.0 Ok"}, ("8BITMIME", "STARTTLS"), {"starttls": 1}, "STARTTLS"),
    "dot.example.jp": ({"DOT": "354 End data with <CR><LF>.<CR><LF>"}, ("8BITMIME",), {}, "DATA"),
    "mail.example.jp": ({"MAIL": "354 Go ahead"}, ("8BITMIME",), {}, "MAIL"),
    "rcpt.example.jp": ({"RCPT": "334 VXNlcm5hbWU6"}, ("8BITMIME",), {}, "RCPT"),
    "data.example.jp": ({"DATA": "250 2.0.0 Ok"}, ("8BITMIME",), {}, "DATA"),
    # the same misbehaviour where the client pipelines MAIL, RCPT and DATA
    "mail-pipe.example.jp": ({"MAIL": "354 Go ahead"}, ("8BITMIME", "PIPELINING"), {}, "MAIL"),
    "rcpt-pipe.example.jp": ({"RCPT": "334 VXNlcm5hbWU6"}, ("8BITMIME", "PIPELINING"), {}, "RCPT"),
    "data-pipe.example.jp": ({"DATA": "250 2.0.0 Ok"}, ("8BITMIME", "PIPELINING"), {}, "DATA"),
    "dot-pipe.example.jp": ({"DOT": "354 End data with <CR><LF>.<CR><LF>"}, ("8BITMIME", "PIPELINING"), {}, "DATA"),
}


class OddPositiveReplies(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tls = cls.class_peer(TlsFiles())
        cls.peers = {}
        routes = {}
        for domain, (replies, keywords, extra, _command) in WRONG.items():
            peer = ScriptedSmtpPeer(replies, ehlo_keywords=keywords).start()
            cls.addClassCleanup(peer.stop)
            cls.peers[domain] = peer
            routes[domain] = dict({"mailer": "ESMTP", "host": "127.0.0.1", "port": peer.port, "timeout": 5}, **extra)
        # the controls: peers that answer every stage as they should
        cls.good = ScriptedSmtpPeer(ehlo_keywords=("8BITMIME", "AUTH LOGIN")).start()
        cls.addClassCleanup(cls.good.stop)
        routes["good.example.jp"] = {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.good.port, "timeout": 5,
                                     "auth": "scripted", "auth_plaintext": 1}
        cls.good_tls = ScriptedSmtpPeer(ehlo_keywords=("8BITMIME", "STARTTLS", "AUTH LOGIN"),
                                        tls=cls.tls.server_context()).start()
        cls.addClassCleanup(cls.good_tls.stop)
        routes["good-tls.example.jp"] = {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.good_tls.port,
                                         "timeout": 5, "starttls": 1, "auth": "scripted"}
        cls.good_pipe = ScriptedSmtpPeer(ehlo_keywords=("8BITMIME", "PIPELINING")).start()
        cls.addClassCleanup(cls.good_pipe.stop)
        routes["good-pipe.example.jp"] = {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.good_pipe.port,
                                          "timeout": 5}
        # Postfix's smtp-sink answers AUTH LOGIN (and AUTH PLAIN) with 250
        cls.sink = cls.class_peer(SmtpSink())
        routes["sink-auth.example.jp"] = {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.sink.port,
                                          "timeout": 5, "auth": "scripted", "auth_plaintext": 1}
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "tls_ca_file": cls.tls.ca_cert, "pool_idle_timeout": 1}},
            "mailertable": routes,
            "authinfo": {"scripted": CREDENTIALS},
            "recipients": {"domainpart": sorted(routes)},
        })

    def post(self, rcpt):
        resp = self.server.submit(message(rcpt=[rcpt], header={"subject": "strict replies"},
                                          body="Only a 2xx to the final dot is a delivery."), timeout=60)
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.json["response"]), 1, resp.json)
        entry = resp.json["response"][0]
        self.assertEqual(entry["rcpt"], rcpt, entry)
        return entry

    def assertStageError(self, domain):
        replies, _keywords, _extra, command = WRONG[domain]
        peer = self.peers[domain]
        rcpt = "neko@" + domain
        entry = self.post(rcpt)
        self.assertEqual(entry["error"], 1, "an odd positive reply was taken as a delivery: %r" % entry)
        code = int(entry["code"])
        self.assertTrue(400 <= code <= 599, "an error needs a 4xx or 5xx code: %r" % entry)
        self.assertEqual(entry["command"], command, entry)
        self.assertEqual(entry["mailer"], "ESMTP", entry)
        self.assertEqual(entry["port"], peer.port, entry)
        stage = next(iter(replies))
        if stage != "greeting":
            self.assertIn(stage, peer.stages(), "the client never reached the stage under test")
        return entry, peer

    def test_greeting_250_is_not_220(self):
        entry, peer = self.assertStageError("greeting.example.jp")
        self.assertNotIn("MAIL", peer.stages(), "no transaction after a wrong greeting")
        self.assertEqual(peer.messages, [])

    def test_auth_login_answered_250(self):
        entry, peer = self.assertStageError("auth.example.jp")
        self.assertNotIn("MAIL", peer.stages(), "mail went on after AUTH failed")
        self.assertEqual(peer.messages, [])

    def test_starttls_answered_250(self):
        entry, peer = self.assertStageError("starttls.example.jp")
        self.assertNotIn("MAIL", peer.stages(), "mail went on in clear after STARTTLS failed")
        self.assertEqual(peer.messages, [])

    def test_final_dot_answered_354(self):
        entry, peer = self.assertStageError("dot.example.jp")
        self.assertEqual(len(peer.messages), 1, "the body should have reached the peer")

    def test_mail_answered_354(self):
        entry, peer = self.assertStageError("mail.example.jp")
        self.assertEqual(peer.messages, [])

    def test_rcpt_answered_334(self):
        entry, peer = self.assertStageError("rcpt.example.jp")
        self.assertEqual(peer.messages, [])

    def test_data_answered_250(self):
        entry, peer = self.assertStageError("data.example.jp")
        self.assertEqual(peer.messages, [])

    def test_mail_answered_354_pipelined(self):
        self.assertStageError("mail-pipe.example.jp")

    def test_rcpt_answered_334_pipelined(self):
        self.assertStageError("rcpt-pipe.example.jp")

    def test_data_answered_250_pipelined(self):
        entry, peer = self.assertStageError("data-pipe.example.jp")
        self.assertEqual(peer.messages, [])

    def test_final_dot_answered_354_pipelined(self):
        self.assertStageError("dot-pipe.example.jp")

    def test_smtp_sink_answering_auth_with_250_is_not_a_delivery(self):
        rcpt = "neko@sink-auth.example.jp"
        entry = self.post(rcpt)
        self.assertEqual(entry["error"], 1, "smtp-sink's 250 to AUTH was taken as authenticated: %r" % entry)
        self.assertTrue(400 <= int(entry["code"]) <= 599, entry)
        self.assertEqual(entry["command"], "AUTH", entry)
        self.assertEqual(entry["port"], self.sink.port, entry)
        self.assertEqual(self.sink.for_rcpt(rcpt), [], "the message reached smtp-sink")

    def assertDelivered(self, entry, peer):
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["code"], "250", entry)
        self.assertEqual(entry["dsn"], "2.0.0", entry)
        self.assertEqual(entry["command"], "QUIT", entry)
        self.assertEqual(entry["port"], peer.port, entry)
        self.assertEqual(len(peer.messages), 1, peer.commands)
        msg = email.message_from_bytes(peer.messages[0], policy=email.policy.default)
        self.assertEqual(msg["Subject"], "strict replies")

    def test_control_well_behaved_peer_with_auth_login(self):
        entry = self.post("neko@good.example.jp")
        self.assertDelivered(entry, self.good)
        stages = self.good.stages()
        for stage in ("EHLO", "AUTH", "AUTH-USER", "AUTH-PASS", "MAIL", "RCPT", "DATA", "DOT"):
            self.assertIn(stage, stages)

    def test_control_well_behaved_peer_with_starttls_and_auth(self):
        entry = self.post("neko@good-tls.example.jp")
        self.assertDelivered(entry, self.good_tls)
        over_tls = {stage: tls for stage, _line, tls in self.good_tls.commands}
        self.assertIn("STARTTLS", over_tls)
        self.assertTrue(over_tls["AUTH"] and over_tls["MAIL"] and over_tls["DOT"], self.good_tls.commands)

    def test_control_well_behaved_peer_with_pipelining(self):
        self.assertDelivered(self.post("neko@good-pipe.example.jp"), self.good_pipe)


if __name__ == "__main__":
    unittest.main()
