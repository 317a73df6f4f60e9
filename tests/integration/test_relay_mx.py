"""The MX mailer: DNS from a dnsmasq answering for *.test (haineko.cf dns_servers), mail
to Postfix's smtp-sink on a free port (the route's port:)."""

import time
import unittest

from harness import HOSTNAME, HainekoTestCase, message
from peers import Dnsmasq, SmtpSink, free_udp_tcp_port

DOMAINS = ["example.test", "nullmx.test", "nosuch.test", "amx.test", "fallback.test", "allbad.test"]

RECORDS = [
    "--mx-host=example.test,mx1.example.test,10",
    "--host-record=mx1.example.test,127.0.0.1",
    "--mx-host=nullmx.test,.,0",                      # RFC 7505 null MX
    "--host-record=amx.test,127.0.0.1",               # no MX: the implicit MX
    "--mx-host=fallback.test,dead.fallback.test,5",   # preferred, but nothing listens there
    "--mx-host=fallback.test,mx1.example.test,20",
    "--host-record=dead.fallback.test,127.0.0.2",
    "--mx-host=allbad.test,dead.fallback.test,10",
]


class MxBase(HainekoTestCase):
    start_server = False

    @classmethod
    def route_etc(cls, dns_port, sink_port):
        return {
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "dns_servers": ["127.0.0.1:%d" % dns_port],
                                     "pool_idle_timeout": 2}},
            "mailertable": {"default": {"mailer": "MX", "port": sink_port, "timeout": 5}},
            "recipients": {"domainpart": DOMAINS},
        }

    def post(self, rcpts):
        resp = self.server.submit(message(rcpt=rcpts, body="MX test body"))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        return resp.json

    def entry(self, j, rcpt):
        entries = [e for e in j["response"] if e["rcpt"] == rcpt]
        self.assertEqual(len(entries), 1, j)
        self.assertEqual(entries[0]["mailer"], "MX", entries[0])
        return entries[0]


class MxDelivery(MxBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dns = cls.class_peer(Dnsmasq(RECORDS))
        cls.sink = cls.class_peer(SmtpSink())
        cls.server = cls.make_server(etc=cls.route_etc(cls.dns.port, cls.sink.port))

    def assertDelivered(self, j, rcpt, exchanger):
        e = self.entry(j, rcpt)
        self.assertEqual(e["error"], 0, e)
        self.assertEqual(e["code"], "250", e)
        self.assertEqual(e["dsn"], "2.0.0", e)
        self.assertEqual(e["host"], exchanger, e)
        self.assertEqual(e["port"], self.sink.port, e)
        got = self.sink.wait_for_rcpt(rcpt)
        self.assertEqual(len(got), 1, got)
        self.assertEqual([a.addr_spec for a in got[0].msg["To"].addresses], [rcpt])
        self.assertEqual(got[0].msg.get_content().rstrip("\n"), "MX test body")

    def assertNothingFor(self, rcpt):
        time.sleep(0.1)
        self.assertEqual(self.sink.for_rcpt(rcpt), [])

    def test_delivery_to_the_mx_host(self):
        j = self.post(["neko@example.test"])
        self.assertDelivered(j, "neko@example.test", "mx1.example.test")

    def test_next_exchanger_when_the_preferred_one_is_down(self):
        j = self.post(["neko@fallback.test"])
        self.assertDelivered(j, "neko@fallback.test", "mx1.example.test")

    def test_implicit_mx(self):
        j = self.post(["neko@amx.test"])
        self.assertDelivered(j, "neko@amx.test", "amx.test")

    def test_null_mx(self):
        j = self.post(["neko@nullmx.test"])
        e = self.entry(j, "neko@nullmx.test")
        self.assertEqual(e["error"], 1, e)
        self.assertEqual(int(e["code"]), 556, e)
        self.assertEqual(e["dsn"], "5.1.10", e)
        self.assertNothingFor("neko@nullmx.test")

    def test_nxdomain(self):
        j = self.post(["neko@nosuch.test"])
        e = self.entry(j, "neko@nosuch.test")
        self.assertEqual(e["error"], 1, e)
        self.assertTrue(500 <= int(e["code"]) < 600, e)
        self.assertTrue((e["dsn"] or "").startswith("5."), e)
        self.assertNothingFor("neko@nosuch.test")

    def test_every_exchanger_unreachable_is_temporary(self):
        j = self.post(["neko@allbad.test"])
        e = self.entry(j, "neko@allbad.test")
        self.assertEqual(e["error"], 1, e)
        self.assertTrue(400 <= int(e["code"]) < 500, e)

    def test_outcome_per_recipient(self):
        j = self.post(["mixed@example.test", "mixed@nullmx.test", "mixed@amx.test"])
        self.assertEqual(len(j["response"]), 3, j)
        self.assertDelivered(j, "mixed@example.test", "mx1.example.test")
        self.assertDelivered(j, "mixed@amx.test", "amx.test")
        self.assertEqual(int(self.entry(j, "mixed@nullmx.test")["code"]), 556)


class MxResolverDown(MxBase):
    """dns_servers names a port where no DNS server listens."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = cls.class_peer(SmtpSink())
        cls.server = cls.make_server(etc=cls.route_etc(free_udp_tcp_port(), cls.sink.port))

    def test_resolver_failure_is_temporary(self):
        t = time.monotonic()
        j = self.post(["neko@example.test"])
        elapsed = time.monotonic() - t
        e = self.entry(j, "neko@example.test")
        self.assertEqual(e["error"], 1, e)
        self.assertTrue(400 <= int(e["code"]) < 500, "a resolver failure must not bounce: %r" % e)
        self.assertTrue((e["dsn"] or "").startswith("4."), e)
        self.assertLess(elapsed, 20)
        self.assertEqual(self.sink.messages(), [])


if __name__ == "__main__":
    unittest.main()
