"""The inbound role (issue 21): a listener with mode 'inbound' takes mail from anyone for
the domains of etc/inbound, refuses unknown local recipients at RCPT (550 5.1.1) and
everything else as relaying (554 5.7.1), always takes the postmaster and the null sender,
never offers AUTH, and delivers each domain's mail to its route."""

import glob
import os
import unittest

from harness import HOSTNAME, HainekoTestCase, run_ctl
from peers import smtp_client, wait_for
from test_smtp_intake import Talk, pw_line

PLUGIN = """
local P = {}
function P.hook_rcpt(conn, txn, rcpt)
  if conn.listener.mode == "inbound" and rcpt.address == "vip@partner.example" then return haineko.OK end
end
return P
"""


class Inbound(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME}, "smtp": {"greet_pause": 0}},
               "inbound": {"example.jp": {"mailer": "File", "path": "mail-jp",
                                          "recipients": ["neko", "kijitora@example.jp"]},
                           "example.net": {"mailer": "File", "path": "mail-net"}},
               "password": pw_line("tabby", "purr purr"),
               "plugins": "vip\n"}
        files = {"plugins/vip.lua": PLUGIN, "mail-jp/.keep": "", "mail-net/.keep": ""}
        cls.server = cls.make_server(etc=etc, extra_files=files,
                                     smtp_listen=[{"mode": "inbound"}, {"mode": "relay"}])
        cls.inbound, cls.relay = cls.server.smtp_ports

    def session(self, port=None):
        return smtp_client(self, port or self.inbound, helo="mx.sender.example")

    def delivered_in(self, folder, rcpt):
        pattern = os.path.join(self.server.root, folder, "*%s*.eml" % rcpt)
        return wait_for(lambda: glob.glob(pattern), 10)

    def test_recipients_of_each_kind(self):
        s = self.session()
        self.assertEqual(s.mail("someone@sender.example")[0], 250)
        self.assertEqual(s.rcpt("neko@example.jp")[0], 250)
        self.assertEqual(s.rcpt("KIJITORA@Example.JP")[0], 250)
        self.assertEqual(s.rcpt("anyone@example.net")[0], 250)
        self.assertEqual(s.rcpt("postmaster@example.jp")[0], 250)
        self.assertEqual(s.rcpt("unknown@example.jp"), (550, b"5.1.1 Recipient address rejected: User unknown"))
        self.assertEqual(s.rcpt("someone@elsewhere.example"), (554, b"5.7.1 Relay access denied"))
        code, _ = s.data(b"From: someone@sender.example\r\nSubject: in\r\n\r\nhello\r\n")
        self.assertEqual(code, 250)
        self.assertTrue(self.delivered_in("mail-jp", "neko@example.jp"))
        self.assertTrue(self.delivered_in("mail-net", "anyone@example.net"))

    def test_the_postmaster_and_the_null_sender(self):
        t = Talk(self.inbound)
        self.addCleanup(t.close)
        self.assertTrue(t.command("EHLO mx.sender.example").startswith("250"))
        self.assertTrue(t.command("MAIL FROM:<>").startswith("250"))
        self.assertTrue(t.command("RCPT TO:<Postmaster>").startswith("250"))

    def test_no_auth_is_offered(self):
        s = self.session()
        self.assertFalse(s.has_extn("auth"), s.esmtp_features)
        relay = self.session(self.relay)
        self.assertEqual(relay.rcpt("x@example.jp")[0], 503)  # no MAIL yet: the relay listener still works

    def test_a_plugins_ok_takes_a_recipient_of_another_domain(self):
        s = self.session()
        s.mail("someone@sender.example")
        self.assertEqual(s.rcpt("vip@partner.example")[0], 250)
        self.assertEqual(s.rcpt("other@partner.example")[0], 554)

    def test_check_shows_the_inbound_listener(self):
        proc = run_ctl("check", env={"HAINEKO_ROOT": self.server.root})
        self.assertIn("inbound", proc.stdout)


if __name__ == "__main__":
    unittest.main()
