"""GET /conf (content, masking, who may read it) and HTTP Basic auth (-A, HAINEKO_AUTH,
hainekoctl pw)."""

import base64
import hashlib
import json
import os
import re
import socket
import unittest

from harness import (HOSTNAME, HainekoTestCase, basic_auth, message, non_loopback_ipv4, run_ctl)

AUTHINFO = {
    "smarthost": {"username": "relayuser", "password": "s3cr3t-pass"},
    "cloud": {"username": "apikey-user", "password": "key-123-secret"},
}
MAILERTABLE = {"default": {"mailer": "File", "path": "outbox"}, "example.com": {"mailer": "Discard"}}
SENDERMT = {"example.org": {"mailer": "File", "path": "outbox", "disabled": 1}}
RELAYHOSTS = {"open-relay": 0, "relayhosts": ["127.0.0.1", "198.51.100.0/24"]}
RECIPIENTS = {"open-relay": 0, "domainpart": ["example.jp", "example.com"], "recipients": ["one@example.net"]}

KNOWN_SSHA = "{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn"  # haineko / kijitora

OTHER_IP = non_loopback_ipv4()

# A remote client, without needing a non-loopback address on this host: a trusted proxy
# on 127.0.0.2 (127/8 is always there) forwards it, appending its address to whatever
# X-Forwarded-For the client itself sent. 127.0.0.1 stays an untrusted, local client.
PROXY = "127.0.0.2"
REMOTE = "203.0.113.9"


def remote_clients(claims):
    """[(label, request keyword arguments, the address the server should see)] for a client
    that is not local and claims each address in claims through X-Forwarded-For: through
    the trusted proxy always, and directly from this host's non-loopback address when it
    has one."""
    out = [("via proxy, no claim", {"source": PROXY, "headers": {"X-Forwarded-For": REMOTE}}, REMOTE)]
    for claim in claims:
        out.append(("via proxy, claims %s" % claim,
                    {"source": PROXY, "headers": {"X-Forwarded-For": "%s, %s" % (claim, REMOTE)}}, REMOTE))
    if OTHER_IP is not None:
        out.append(("from %s" % OTHER_IP, {"via": OTHER_IP}, OTHER_IP))
        for claim in claims:
            out.append(("from %s, claims %s" % (OTHER_IP, claim),
                        {"via": OTHER_IP, "headers": {"X-Forwarded-For": claim}}, OTHER_IP))
    return out


class Conf(HainekoTestCase):
    host = "0.0.0.0"  # so that a non-loopback address of this host reaches it too
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "trusted_proxies": [PROXY]}},
           "authinfo": AUTHINFO, "mailertable": MAILERTABLE, "sendermt": SENDERMT, "relayhosts": RELAYHOSTS,
           "recipients": RECIPIENTS}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.chmod(os.path.join(cls.server.etc, "authinfo"), 0o600)

    def get_conf(self, **kw):
        resp = self.server.request("GET", "/conf", **kw)
        self.assertJsonAnswer(resp)
        return resp

    def test_conf_lists_each_file(self):
        resp = self.get_conf()
        self.assertEqual(resp.status, 200, resp)
        j = resp.json
        for name in ("haineko.cf", "mailertable", "sendermt", "authinfo", "relayhosts", "recipients"):
            with self.subTest(file=name):
                self.assertIn(name, j)
                self.assertEqual(set(j[name]), {"path", "data"}, j[name])
                self.assertEqual(os.path.realpath(j[name]["path"]),
                                 os.path.realpath(os.path.join(self.server.etc, name)))
        self.assertEqual(j["mailertable"]["data"], MAILERTABLE)
        self.assertEqual(j["sendermt"]["data"], SENDERMT)
        self.assertEqual(j["relayhosts"]["data"], RELAYHOSTS)
        self.assertEqual(j["recipients"]["data"], RECIPIENTS)
        self.assertEqual(j["haineko.cf"]["data"]["smtpd"]["hostname"], HOSTNAME)

    def test_authinfo_masked(self):
        resp = self.get_conf()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["authinfo"]["data"], {
            "smarthost": {"username": "r*******", "password": "********"},
            "cloud": {"username": "a*******", "password": "********"},
        })
        text = resp.body.decode()
        for secret in ("relayuser", "s3cr3t-pass", "apikey-user", "key-123-secret"):
            self.assertNotIn(secret, text)

    def test_conf_untrusted_forwarded_for_does_not_deny_loopback(self):
        resp = self.get_conf(headers={"X-Forwarded-For": "203.0.113.9"})
        self.assertEqual(resp.status, 200, resp)
        self.assertIn("mailertable", resp.json)

    def test_conf_from_other_address_forbidden(self):
        for label, kw, _seen in remote_clients(("127.0.0.1", "::1")):
            with self.subTest(client=label):
                resp = self.get_conf(**kw)
                self.assertEqual(resp.status, 403, resp)
                self.assertEqual(resp.json["response"][0]["command"], "HTTP", resp.json)
                self.assertNotIn("mailertable", resp.json)
                self.assertNotIn(b"relayhosts", resp.body)

    def test_relay_from_other_address_denied_despite_forwarded_for(self):
        for label, kw, seen in remote_clients(("127.0.0.1", "198.51.100.7")):
            with self.subTest(client=label):
                resp = self.server.submit(message(), **kw)
                self.assertJsonAnswer(resp)
                self.assertCheck(resp, 403, "AUTH", 500, "5.7.1", "Access denied")
                self.assertEqual(resp.json["remoteaddr"], seen)

    def test_relay_from_loopback_allowed(self):
        resp = self.server.submit(message(rcpt=["one@example.net", "two@example.com"]))
        self.assertEqual(resp.status, 200, resp)
        by = {e["rcpt"]: e for e in resp.json["response"]}
        self.assertEqual(by["one@example.net"]["mailer"], "File")
        self.assertEqual(by["two@example.com"]["mailer"], "Discard")
        self.assertEqual(by["two@example.com"]["error"], 0)



class ConfQueue(HainekoTestCase):
    """The queue's settings in /conf, with a webhook's secret (and a password in its URL) masked."""
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME},
                          "queue": {"min_backoff": 60, "bounce": 0},
                          "v1": {"max_recipients": 7},
                          "webhooks": [{"url": "https://hook:pa55word@hooks.example.net/in", "secret": "wh-s3cret",
                                        "events": ["bounced"]}]}}

    def test_queue_v1_and_webhooks_are_shown_with_secrets_masked(self):
        resp = self.server.request("GET", "/conf")
        self.assertEqual(resp.status, 200, resp.body)
        data = resp.json["haineko.cf"]["data"]
        self.assertEqual(data["queue"]["min_backoff"], 60)
        self.assertEqual(data["queue"]["max_backoff"], 4000)
        self.assertEqual(data["queue"]["bounce"], 0)
        self.assertTrue(data["queue"]["path"].endswith("/var/queue.db"), data["queue"])
        self.assertEqual(data["v1"], {"max_recipients": 7})
        self.assertEqual(data["webhooks"], [{"url": "https://hook:********@hooks.example.net/in",
                                             "secret": "********", "events": ["bounced"]}])
        for secret in ("wh-s3cret", "pa55word"):
            self.assertNotIn(secret, resp.body.decode())

class ConfBehindTrustedProxy(HainekoTestCase):
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "trusted_proxies": ["127.0.0.1"]}}}

    def test_forwarded_client_is_not_local(self):
        resp = self.server.request("GET", "/conf", headers={"X-Forwarded-For": "203.0.113.9"})
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 403, resp)
        self.assertEqual(resp.json["response"][0]["command"], "HTTP")

    def test_without_forwarded_for(self):
        resp = self.server.request("GET", "/conf")
        self.assertEqual(resp.status, 200, resp)


class ConfPathFromEnvironmentAndFlag(HainekoTestCase):
    """HAINEKO_CONF and -C name the main file; /conf shows which one was read."""
    start_server = False

    def check_conf_used(self, srv, path, hostname):
        resp = srv.request("GET", "/conf")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(os.path.realpath(resp.json["haineko.cf"]["path"]), os.path.realpath(path))
        self.assertEqual(resp.json["haineko.cf"]["data"]["smtpd"]["hostname"], hostname)
        loop = srv.submit(message(header={"x-haineko-loop": [hostname]}))
        self.assertCheck(loop, 400, "CONN", 421, None, "Detected message loop")

    def test_haineko_conf_environment(self):
        srv = Haineko_with_conf(self, "env.example.net")
        srv.env["HAINEKO_CONF"] = srv.other_conf
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        self.check_conf_used(srv, srv.other_conf, "env.example.net")

    def test_conf_flag(self):
        srv = Haineko_with_conf(self, "flag.example.net")
        srv.args = ["-C", srv.other_conf]
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        self.check_conf_used(srv, srv.other_conf, "flag.example.net")


def Haineko_with_conf(test, hostname):
    from harness import Haineko
    srv = Haineko()
    test.addCleanup(srv.cleanup)
    srv.other_conf = os.path.join(srv.root, "conf", "other.cf")
    os.makedirs(os.path.dirname(srv.other_conf))
    with open(srv.other_conf, "w") as f:
        json.dump({"smtpd": {"hostname": hostname}}, f)
    return srv


class OpenRelay(HainekoTestCase):
    host = "0.0.0.0"
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "trusted_proxies": [PROXY]}},
           "relayhosts": {"open-relay": 1, "relayhosts": ["127.0.0.1"]}}

    def test_anyone_may_submit(self):
        for label, kw, seen in remote_clients(()):
            with self.subTest(client=label):
                resp = self.server.submit(message(), **kw)
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.json["remoteaddr"], seen)

    def test_conf_still_local_only(self):
        for label, kw, _seen in remote_clients(("127.0.0.1",)):
            with self.subTest(client=label):
                resp = self.server.request("GET", "/conf", **kw)
                self.assertEqual(resp.status, 403, resp)


class BasicAuthWithoutPasswordFile(HainekoTestCase):
    """-A and no password file: nobody gets in."""
    args = ("-A",)

    def test_everything_refused(self):
        for headers in ({}, {"Authorization": basic_auth("haineko", "kijitora")}):
            with self.subTest(headers=headers):
                resp = self.server.submit(message(), headers=headers)
                self.assertCheck(resp, 401, "AUTH", 500, "5.7.1", "Access denied. Proper authentication required.")


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# No IPv6 loopback cannot be made up for: this one stays a skip.
@unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback")
class IPv6Loopback(HainekoTestCase):
    """::1 counts as local for /conf and the default relayhosts."""
    host = "::1"
    etc = {"relayhosts": None}

    def test_conf_and_relay(self):
        resp = self.server.request("GET", "/conf")
        self.assertEqual(resp.status, 200, resp)
        resp = self.server.submit(message())
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["remoteaddr"], "::1")


def pw_line(user, password, *extra):
    proc = run_ctl("pw", "-u", user, "-p", password, *extra)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class BasicAuthFlag(HainekoTestCase):
    """-A with ROOT/etc/password; relayhosts does not list 127.0.0.1."""
    args = ("-A",)

    @classmethod
    def setUpClass(cls):
        cls.etc = {
            "password": pw_line("tabby", "purr purr") + "haineko: '%s'\n" % KNOWN_SSHA
                        + pw_line("colon", "pa:ss:word", "-s", "SSHA256") + pw_line("kuro", "黒猫のパスワード"),
            "relayhosts": {"open-relay": 0, "relayhosts": ["198.51.100.0/24"]},
        }
        super().setUpClass()

    def assert_refused(self, resp):
        self.assertCheck(resp, 401, "AUTH", 500, "5.7.1", "Access denied. Proper authentication required.")
        self.assertRegex(resp.header("WWW-Authenticate") or "", r"^Basic realm=")

    def test_missing_credentials(self):
        self.assert_refused(self.server.submit(message()))

    def test_wrong_credentials(self):
        for header in (basic_auth("tabby", "wrong"), basic_auth("haineko", "kijitora2"),
                       basic_auth("nobody", "kijitora"), basic_auth("haineko", ""),
                       "Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"no-colon").decode(),
                       "Bearer abc", basic_auth("Haineko", "kijitora")):
            with self.subTest(authorization=header):
                self.assert_refused(self.server.submit(message(), headers={"Authorization": header}))

    def test_conf_also_guarded(self):
        resp = self.server.request("GET", "/conf")
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 401, resp)

    def test_right_credentials_relay_though_not_in_relayhosts(self):
        for user, password in (("tabby", "purr purr"), ("haineko", "kijitora"), ("colon", "pa:ss:word"),
                               ("kuro", "黒猫のパスワード")):
            with self.subTest(user=user):
                resp = self.server.submit(message(), headers={"Authorization": basic_auth(user, password)})
                self.assertJsonAnswer(resp)
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)
                self.assertEqual(len(self.server.messages_for(resp.json["queueid"])), 1)

    def test_authenticated_request_still_checked(self):
        resp = self.server.submit(message(ehlo=""), headers={"Authorization": basic_auth("haineko", "kijitora")})
        self.assertCheck(resp, 400, "EHLO", 501, "5.0.0", "EHLO requires domain address")

    def test_conf_never_shows_password_hashes(self):
        resp = self.server.request("GET", "/conf", headers={"Authorization": basic_auth("haineko", "kijitora")})
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        text = resp.body.decode()
        self.assertNotIn("{SSHA", text)
        self.assertNotIn(KNOWN_SSHA[6:], text)
        with open(os.path.join(self.server.etc, "password")) as f:
            for line in f:
                if ":" in line and not line.startswith("#"):
                    self.assertNotIn(line.split("'")[1][10:], text)
        if "password" in resp.json:
            data = resp.json["password"]["data"]
            self.assertEqual(set(data), {"tabby", "haineko", "colon", "kuro"})
            for v in data.values():
                self.assertEqual(v, "********")


class BasicAuthEnvironment(HainekoTestCase):
    """HAINEKO_AUTH=path turns Basic auth on without -A."""

    @classmethod
    def setUpClass(cls):
        cls.start_server = False
        super().setUpClass()
        srv = cls.make_server(start=False)
        path = os.path.join(srv.root, "secrets", "users")
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write("haineko: '%s'\n" % KNOWN_SSHA)
        os.chmod(path, 0o600)
        srv.env["HAINEKO_AUTH"] = path
        srv.start()
        cls.addClassCleanup(cls._stop_checked, srv)
        cls.server = srv

    def test_refused_without_credentials(self):
        resp = self.server.submit(message())
        self.assertCheck(resp, 401, "AUTH", 500, "5.7.1", "Access denied. Proper authentication required.")
        self.assertRegex(resp.header("WWW-Authenticate") or "", r"^Basic")

    def test_accepted_with_credentials(self):
        resp = self.server.submit(message(), headers={"Authorization": basic_auth("haineko", "kijitora")})
        self.assertEqual(resp.status, 200, resp)


class PasswordCommand(unittest.TestCase):
    LINE = re.compile(r"^(?P<user>[^:]+): '\{(?P<scheme>SSHA|SSHA256|SSHA512)\}(?P<b64>[A-Za-z0-9+/]+=*)'\n$")

    def check(self, out, user, password, scheme, digest):
        m = self.LINE.match(out)
        self.assertIsNotNone(m, repr(out))
        self.assertEqual(m["user"], user)
        self.assertEqual(m["scheme"], scheme)
        raw = base64.b64decode(m["b64"])
        size = hashlib.new(digest).digest_size
        self.assertGreater(len(raw), size, "no salt")
        self.assertEqual(hashlib.new(digest, password.encode() + raw[size:]).digest(), raw[:size])
        return raw[size:]

    def test_default_is_ssha512(self):
        out = pw_line("neko", "kijitora")
        self.check(out, "neko", "kijitora", "SSHA512", "sha512")

    def test_ssha(self):
        out = pw_line("neko", "kijitora", "-s", "SSHA")
        self.check(out, "neko", "kijitora", "SSHA", "sha1")

    def test_ssha256(self):
        out = pw_line("neko", "kijitora", "-s", "SSHA256")
        self.check(out, "neko", "kijitora", "SSHA256", "sha256")

    def test_salts_differ(self):
        a = self.check(pw_line("neko", "same"), "neko", "same", "SSHA512", "sha512")
        b = self.check(pw_line("neko", "same"), "neko", "same", "SSHA512", "sha512")
        self.assertNotEqual(a, b)

    def test_prompts_twice_without_p(self):
        proc = run_ctl("pw", "-u", "neko", input="meow\nmeow\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.check(proc.stdout, "neko", "meow", "SSHA512", "sha512")
        proc = run_ctl("pw", "-u", "neko", input="meow\nnyaa\n")
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, "")

    def test_bad_arguments(self):
        self.assertEqual(run_ctl("pw", "-p", "x").returncode, 2)
        self.assertEqual(run_ctl("pw", "-u", "neko", "-p", "x", "-s", "MD5").returncode, 2)

    def test_known_vector_is_valid(self):
        raw = base64.b64decode(KNOWN_SSHA[6:])
        self.assertEqual(hashlib.sha1(b"kijitora" + raw[20:]).digest(), raw[:20])


if __name__ == "__main__":
    unittest.main()
