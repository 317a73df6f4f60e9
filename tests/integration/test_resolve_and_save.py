"""Every host name is resolved through c-ares with haineko.cf's dns_servers (ESMTP,
Haineko, a cloud API): names only a dnsmasq knows work. The File mailer's "saved" means
the whole message is in its final file, with no temporary file left behind."""

import email
import email.policy
import os
import unittest

from cloud_peer import Answer, CloudPeer
from harness import HOSTNAME, HainekoTestCase, message
from peers import Dnsmasq, SmtpSink


class NamesThroughCares(HainekoTestCase):
    """relay.test, hop.test and api.test are 127.0.0.1, for the dnsmasq only."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dns = Dnsmasq(["--host-record=relay.test,127.0.0.1", "--host-record=hop.test,127.0.0.1",
                           "--host-record=api.test,127.0.0.1"]).start()
        cls.addClassCleanup(cls.dns.cleanup)
        cls.sink = cls.class_peer(SmtpSink())
        cls.cloud = CloudPeer(default=Answer(202, b"", {"X-Message-Id": "sg-cares-1"}), name="cares").start()
        cls.addClassCleanup(cls.cloud.stop)
        cls.next_hop = cls.make_server(etc={"haineko.cf": {"smtpd": {"hostname": "next-hop.example.net"}},
                                            "recipients": {"domainpart": ["hop.example.jp"]}})
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 1,
                                     "dns_servers": ["127.0.0.1:%d" % cls.dns.port]}},
            "mailertable": {
                "esmtp.example.jp": {"mailer": "ESMTP", "host": "relay.test", "port": cls.sink.port, "timeout": 5},
                "unknown.example.jp": {"mailer": "ESMTP", "host": "nosuch.test", "port": cls.sink.port,
                                       "timeout": 5},
                "hop.example.jp": {"mailer": "Haineko", "host": "hop.test", "port": cls.next_hop.port,
                                   "timeout": 5},
                "cloud.example.jp": {"mailer": "SendGrid", "auth": "sendgrid", "timeout": 5,
                                     "endpoint": "http://api.test:%d" % cls.cloud.port},
            },
            "authinfo": {"sendgrid": {"username": "apikey", "password": "SG.cares-test-key"}},
            "recipients": {"domainpart": ["esmtp.example.jp", "unknown.example.jp", "hop.example.jp",
                                          "cloud.example.jp"]},
        })

    def send(self, rcpt):
        resp = self.server.submit(message(rcpt=[rcpt]), timeout=60)
        self.assertEqual(resp.status, 200, resp)
        return resp.json["response"][0]

    def test_esmtp_host_known_only_to_dnsmasq(self):
        entry = self.send("neko@esmtp.example.jp")
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["host"], "relay.test", entry)
        self.assertEqual(len(self.sink.wait_for_rcpt("neko@esmtp.example.jp")), 1)

    def test_esmtp_host_nobody_knows(self):
        entry = self.send("neko@unknown.example.jp")
        self.assertEqual(entry["error"], 1, entry)
        self.assertTrue(400 <= int(entry["code"]) <= 599, entry)
        self.assertEqual(self.sink.for_rcpt("neko@unknown.example.jp"), [])

    def test_haineko_host_known_only_to_dnsmasq(self):
        entry = self.send("neko@hop.example.jp")
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["host"], "hop.test", entry)
        self.assertEqual(len(self.next_hop.messages_to("neko@hop.example.jp")), 1)

    def test_cloud_endpoint_known_only_to_dnsmasq(self):
        entry = self.send("neko@cloud.example.jp")
        self.assertEqual(entry["error"], 0, entry)
        got = self.cloud.received()
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0].header("Host"), "api.test:%d" % self.cloud.port)


class FileMailerSaves(HainekoTestCase):
    etc = {
        "mailertable": {"default": {"mailer": "File", "path": "outbox"},
                        "missing.example.jp": {"mailer": "File", "path": "no-such-directory"}},
        "recipients": {"domainpart": ["example.jp", "example.com", "missing.example.jp"]},
    }

    def leftovers(self, directory):
        return [n for n in os.listdir(directory) if not n.endswith(".eml")]

    def test_saved_means_the_whole_message_is_in_its_file(self):
        body = "A body long enough to be written in more than one piece.\n" * 2000
        rcpts = ["save-1@example.jp", "save-2@example.com"]
        resp = self.server.submit(message(rcpt=rcpts, header={"subject": "durable"}, body=body))
        self.assertEqual(resp.status, 200, resp)
        for entry in resp.json["response"]:
            with self.subTest(rcpt=entry["rcpt"]):
                self.assertEqual(entry["error"], 0, entry)
                self.assertIn("Successfully saved", entry["message"], entry)
                path = entry["message"][0]
                self.assertTrue(os.path.isabs(path), entry)
                self.assertEqual(os.path.dirname(path), os.path.realpath(self.server.outbox), entry)
                self.assertTrue(os.path.isfile(path), "the answer names a file that is not there: %s" % path)
                with open(path, "rb") as f:
                    msg = email.message_from_bytes(f.read(), policy=email.policy.default)
                self.assertEqual(str(msg["To"]), entry["rcpt"])
                self.assertEqual(msg["Subject"], "durable")
                self.assertTrue(str(msg["Message-Id"]).startswith("<" + resp.json["queueid"] + "."))
                self.assertEqual(msg.get_content().replace("\r\n", "\n"), body)
        self.assertEqual(self.leftovers(self.server.outbox), [], "temporary files left in the outbox")

    def test_directory_that_does_not_exist(self):
        resp = self.server.submit(message(rcpt=["lost@missing.example.jp"]))
        self.assertEqual(resp.status, 200, resp)
        entry = resp.json["response"][0]
        self.assertEqual(entry["error"], 1, "a file that could not be written was reported saved: %r" % entry)
        self.assertTrue(400 <= int(entry["code"]) <= 599, entry)
        self.assertNotIn("Successfully saved", entry["message"], entry)
        self.assertFalse(os.path.exists(os.path.join(self.server.root, "no-such-directory")))


if __name__ == "__main__":
    unittest.main()
