"""The ESMTP mailer's STARTTLS, implicit TLS and SMTP AUTH against aiosmtpd servers with
certificates from a CA made for the test (openssl)."""

import email
import email.policy
import unittest

from harness import HOSTNAME, HainekoTestCase, message
from peers import AioPeer, TlsFiles, require_aiosmtpd

GOOD = {"neko": "kijitora-9"}


def relay_entry(testcase, j, rcpt):
    entries = [e for e in j["response"] if e["rcpt"] == rcpt]
    testcase.assertEqual(len(entries), 1, "one entry for %s expected: %r" % (rcpt, j))
    return entries[0]


class TlsAuthBase(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_aiosmtpd()  # a missing aiosmtpd fails these tests, never skips them
        cls.tls = cls.class_peer(TlsFiles())

    @classmethod
    def peer(cls, **kw):
        p = AioPeer(**kw).start()
        cls.addClassCleanup(p.stop)
        return p

    def post(self, rcpts, body="TLS and AUTH test body"):
        resp = self.server.submit(message(rcpt=rcpts, body=body, header={"subject": "tls/auth"}))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        return resp.json

    def assertDelivered(self, j, rcpt, peer, tls=True, auth_user=None):
        entry = relay_entry(self, j, rcpt)
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["code"], "250", entry)
        self.assertEqual(entry["mailer"], "ESMTP", entry)
        self.assertEqual(entry["port"], peer.port, entry)
        got = peer.wait_for_rcpt(rcpt)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0].tls, tls, "message travelled %s TLS" % ("without" if tls else "with"))
        self.assertEqual(got[0].auth_user, auth_user)
        msg = email.message_from_bytes(got[0].content, policy=email.policy.default)
        self.assertEqual(str(msg["To"]), rcpt)
        self.assertEqual(msg.get_content().rstrip("\r\n"), "TLS and AUTH test body")
        return entry

    def assertFailed(self, j, rcpt, peer):
        entry = relay_entry(self, j, rcpt)
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(entry["mailer"], "ESMTP", entry)
        self.assertEqual(entry["port"], peer.port, entry)
        self.assertEqual(peer.for_rcpt(rcpt), [], "nothing may be delivered")
        return entry


class TrustedCa(TlsAuthBase):
    """haineko.cf names the test CA in tls_ca_file."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tls = cls.tls
        cls.starttls = cls.peer(tls=tls.server_context(), users=GOOD)
        cls.auth = cls.peer(tls=tls.server_context(), users=GOOD)
        cls.badauth = cls.peer(tls=tls.server_context(), users=GOOD)
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; the whole session is TLS here
        cls.implicit = cls.peer(implicit=tls.server_context(), users=GOOD, auth_require_tls=False)
        cls.othername = cls.peer(tls=tls.server_context("other"))
        cls.plain = cls.peer(users=GOOD, auth_require_tls=False)  # AUTH offered without TLS
        cls.plainok = cls.peer(users=GOOD, auth_require_tls=False)
        cls.notls = cls.peer()  # no STARTTLS offered

        def route(peer, host="127.0.0.1", **kw):
            r = {"mailer": "ESMTP", "host": host, "port": peer.port, "timeout": 10}
            r.update(kw)
            return r

        routes = {
            "default": route(cls.starttls, starttls=1),
            "byname.example.jp": route(cls.starttls, host="localhost", starttls=1),
            "auth.example.jp": route(cls.auth, starttls=1, auth="good"),
            "badauth.example.jp": route(cls.badauth, starttls=1, auth="bad"),
            "samehost-bad.example.jp": route(cls.auth, starttls=1, auth="bad"),
            "implicit.example.jp": route(cls.implicit, ssl=1, auth="good"),
            "othername.example.jp": route(cls.othername, starttls=1),
            "plain.example.jp": route(cls.plain, auth="good"),
            "plainok.example.jp": route(cls.plainok, auth="good", auth_plaintext=1),
            "notls.example.jp": route(cls.notls, starttls=1),
            "unknownkey.example.jp": route(cls.auth, starttls=1, auth="no-such-key"),
        }
        # one event loop (one pool), so that a warm session is always there to be reused
        cls.server = cls.make_server(args=("-t", "1"), etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "tls_ca_file": tls.ca_cert, "pool_idle_timeout": 2}},
            "mailertable": routes,
            "authinfo": {"good": {"username": "neko", "password": GOOD["neko"]},
                         "bad": {"username": "neko", "password": "not-the-password"}},
            "recipients": {"domainpart": ["example.jp"] + [d for d in routes if d != "default"]},
        })

    def test_starttls_with_trusted_ca(self):
        j = self.post(["tls@example.jp"])
        self.assertDelivered(j, "tls@example.jp", self.starttls, tls=True)
        self.assertTrue(self.starttls.verbs("STARTTLS"))
        self.assertEqual(self.starttls.verbs("AUTH"), [], "no auth: KEY in the route, no AUTH")

    def test_starttls_checks_the_host_name_by_dns_name(self):
        j = self.post(["byname@byname.example.jp"])
        self.assertDelivered(j, "byname@byname.example.jp", self.starttls, tls=True)

    def test_certificate_for_another_name_is_refused(self):
        j = self.post(["wrong@othername.example.jp"])
        entry = self.assertFailed(j, "wrong@othername.example.jp", self.othername)
        self.assertTrue(400 <= int(entry["code"]) < 500, entry)
        text = " ".join(entry["message"]).lower()
        self.assertIn("certificate", text, entry)

    def test_auth_with_authinfo_credentials(self):
        j = self.post(["authed@auth.example.jp"])
        self.assertDelivered(j, "authed@auth.example.jp", self.auth, tls=True, auth_user="neko")
        attempts = self.auth.auth_attempts
        self.assertTrue(attempts and attempts[-1][1:] == ("neko", True), attempts)
        self.assertTrue(all(over_tls for _v, _a, over_tls in self.auth.verbs("AUTH")), "AUTH only inside TLS")

    def test_wrong_password_gives_the_servers_535(self):
        j = self.post(["denied@badauth.example.jp"])
        entry = self.assertFailed(j, "denied@badauth.example.jp", self.badauth)
        self.assertEqual(entry["code"], "535", entry)
        self.assertEqual(entry["dsn"], "5.7.8", entry)
        self.assertEqual(entry["command"], "AUTH", entry)
        self.assertTrue(any("Authentication credentials invalid" in m for m in entry["message"]), entry)
        self.assertTrue(self.badauth.auth_attempts and not self.badauth.auth_attempts[-1][2])

    def test_wrong_password_not_hidden_by_a_warm_session(self):
        """A session authenticated with the right password must not carry mail for a route
        to the same server and user whose password is wrong."""
        j = self.post(["first@auth.example.jp"])
        self.assertEqual(relay_entry(self, j, "first@auth.example.jp")["error"], 0, j)
        j = self.post(["second@samehost-bad.example.jp"])
        entry = relay_entry(self, j, "second@samehost-bad.example.jp")
        self.assertEqual(entry["error"], 1, "delivered over a session authenticated with another password: %r"
                         % entry)
        self.assertEqual(entry["code"], "535", entry)
        self.assertEqual(self.auth.for_rcpt("second@samehost-bad.example.jp"), [])

    def test_implicit_tls(self):
        j = self.post(["smtps@implicit.example.jp"])
        self.assertDelivered(j, "smtps@implicit.example.jp", self.implicit, tls=True, auth_user="neko")
        self.assertEqual(self.implicit.verbs("STARTTLS"), [], "implicit TLS needs no STARTTLS")

    def test_no_auth_over_plaintext(self):
        j = self.post(["clear@plain.example.jp"])
        entry = self.assertFailed(j, "clear@plain.example.jp", self.plain)
        self.assertTrue(400 <= int(entry["code"]) < 600, entry)
        self.assertEqual(self.plain.verbs("AUTH"), [], "the password must not be sent in clear")
        self.assertEqual(self.plain.auth_attempts, [])

    def test_auth_over_plaintext_when_allowed(self):
        j = self.post(["clear-ok@plainok.example.jp"])
        self.assertDelivered(j, "clear-ok@plainok.example.jp", self.plainok, tls=False, auth_user="neko")
        self.assertTrue(self.plainok.verbs("AUTH"))

    def test_starttls_required_but_not_offered(self):
        j = self.post(["downgrade@notls.example.jp"])
        entry = self.assertFailed(j, "downgrade@notls.example.jp", self.notls)
        self.assertIn("STARTTLS", " ".join(entry["message"]), entry)

    def test_unknown_authinfo_key_fails_the_recipient(self):
        # Sending without the credentials the route names would be a silent downgrade.
        j = self.post(["nokey@unknownkey.example.jp"])
        entry = relay_entry(self, j, "nokey@unknownkey.example.jp")
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual((entry["code"], entry["dsn"], entry["command"]), (530, "5.7.0", "AUTH"), entry)
        self.assertIn("no-such-key", " ".join(entry["message"]), entry)
        self.assertEqual(self.auth.for_rcpt("nokey@unknownkey.example.jp"), [], "nothing may be delivered")


class UntrustedCa(TlsAuthBase):
    """No tls_ca_file: the test CA is unknown, so verification must fail unless turned off."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.starttls = cls.peer(tls=cls.tls.server_context())
        cls.implicit = cls.peer(implicit=cls.tls.server_context())
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 2}},
            "mailertable": {
                "default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.starttls.port, "starttls": 1,
                            "timeout": 10},
                "noverify.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.starttls.port,
                                        "starttls": 1, "tls_verify": 0, "timeout": 10},
                "implicit.example.jp": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.implicit.port,
                                        "ssl": 1, "timeout": 10},
            },
            "recipients": {"domainpart": ["example.jp", "noverify.example.jp", "implicit.example.jp"]},
        })

    def test_unknown_ca_is_refused(self):
        j = self.post(["untrusted@example.jp"])
        entry = self.assertFailed(j, "untrusted@example.jp", self.starttls)
        self.assertIn("certificate verify failed", " ".join(entry["message"]).lower(), entry)
        self.assertTrue(400 <= int(entry["code"]) < 600, entry)

    def test_unknown_ca_is_refused_for_implicit_tls(self):
        j = self.post(["untrusted@implicit.example.jp"])
        entry = self.assertFailed(j, "untrusted@implicit.example.jp", self.implicit)
        self.assertIn("certificate verify failed", " ".join(entry["message"]).lower(), entry)

    def test_tls_verify_off(self):
        j = self.post(["anyway@noverify.example.jp"])
        self.assertDelivered(j, "anyway@noverify.example.jp", self.starttls, tls=True)


if __name__ == "__main__":
    unittest.main()
