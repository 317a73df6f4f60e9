"""Two Haineko servers on one host with the same hostname are two nodes: X-Haineko-Loop
names each as hostname:port (or its node_id), so A -> B is no loop while A -> B -> A
still is; a hostname without a dot gives EHLO HOSTNAME.localdomain."""

import unittest

from harness import HainekoTestCase, message
from peers import AioPeer


def loop_hops(msg):
    return [h.strip() for h in str(msg["X-Haineko-Loop"]).split(",") if h.strip()]


class SameHostname(HainekoTestCase):
    """A and B both say hostname: vm. A relays to B with the Haineko mailer; B writes
    files, except round.example.jp, which B sends back to A."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        domains = {"domainpart": ["example.jp", "round.example.jp"]}
        cls.b = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": "vm"}},
            "mailertable": {"default": {"mailer": "File", "path": "outbox"}},
            "recipients": domains,
        })
        cls.a = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": "vm"}},
            "mailertable": {"default": {"mailer": "Haineko", "host": "127.0.0.1", "port": cls.b.port, "timeout": 10}},
            "recipients": domains,
        })
        cls.b.write_etc("mailertable", {
            "default": {"mailer": "File", "path": "outbox"},
            "round.example.jp": {"mailer": "Haineko", "host": "127.0.0.1", "port": cls.a.port, "timeout": 10},
        })
        if not cls.b.reload():
            raise RuntimeError("B did not reload:\n" + cls.b.stderr_text()[-2000:])

    def test_a_to_b_is_delivered_and_both_nodes_are_named(self):
        resp = self.a.submit(message(rcpt=["twonodes@example.jp"]), timeout=60)
        self.assertEqual(resp.status, 200, resp)
        entry = resp.json["response"][0]
        self.assertEqual(entry["error"], 0, "A and B took each other for a loop: %r" % entry)
        self.assertEqual(entry["mailer"], "Haineko", entry)
        self.assertEqual(entry["port"], self.b.port, entry)
        got = self.b.messages_to("twonodes@example.jp")
        self.assertEqual(len(got), 1, self.b.eml_files())
        hops = loop_hops(got[0])
        self.assertIn("vm:%d" % self.a.port, hops)
        self.assertIn("vm:%d" % self.b.port, hops)
        self.assertLess(hops.index("vm:%d" % self.a.port), hops.index("vm:%d" % self.b.port), hops)
        self.assertEqual(self.a.eml_files(), [])

    def test_a_real_loop_between_them_is_still_detected(self):
        resp = self.a.submit(message(rcpt=["round@round.example.jp"]), timeout=60)
        self.assertEqual(resp.status, 200, resp)
        entry = resp.json["response"][0]
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(int(entry["code"]), 421, entry)
        self.assertIn("Detected message loop", entry["message"], entry)
        self.assertEqual(self.a.messages_to("round@round.example.jp") + self.b.messages_to("round@round.example.jp"), [])

    def test_own_node_in_the_loop_header_is_a_loop(self):
        for hop in ("vm:%d" % self.a.port, "vm"):
            with self.subTest(hop=hop):
                resp = self.a.submit(message(header={"x-haineko-loop": ["elsewhere.example.net", hop]}))
                self.assertCheck(resp, 400, "CONN", 421, None, "Detected message loop")

    def test_the_other_node_in_the_loop_header_is_no_loop(self):
        resp = self.b.submit(message(rcpt=["other-node@example.jp"],
                                     header={"x-haineko-loop": ["vm:%d" % self.a.port]}))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)


class NodeIdAndEhlo(HainekoTestCase):
    start_server = False

    def test_node_id_names_this_server_in_the_loop_header(self):
        srv = self.start_own_server(etc={"haineko.cf": {"node_id": "edge-1", "smtpd": {"hostname": "vm"}}})
        resp = srv.submit(message(rcpt=["node-id@example.jp"]))
        self.assertEqual(resp.status, 200, resp)
        (_path, _raw, msg), = srv.messages_for(resp.json["queueid"])
        hops = loop_hops(msg)
        self.assertIn("edge-1", hops)
        self.assertNotIn("vm:%d" % srv.port, hops, "node_id replaces hostname:port")
        resp = srv.submit(message(header={"x-haineko-loop": "edge-1"}))
        self.assertCheck(resp, 400, "CONN", 421, None, "Detected message loop")

    def test_ehlo_falls_back_to_a_full_domain_name(self):
        peer = AioPeer().start()
        self.addCleanup(peer.stop)
        srv = self.start_own_server(etc={
            "haineko.cf": {"smtpd": {"hostname": "vm", "pool_idle_timeout": 1}},
            "mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": peer.port, "timeout": 10}},
        })
        resp = srv.submit(message(rcpt=["ehlo@example.jp"]))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)
        self.assertEqual(peer.ehlo_names, ["vm.localdomain"])
        got = peer.wait_for_rcpt("ehlo@example.jp")
        self.assertEqual(len(got), 1)
        self.assertTrue(srv.log_lines("vm.localdomain"), "no warning about the short hostname")


if __name__ == "__main__":
    unittest.main()
