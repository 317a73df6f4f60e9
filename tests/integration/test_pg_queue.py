"""The shared queue on a real PostgreSQL 15 (issue 11): two nodes on one database, a message
accepted by one is seen and delivered through either, the URL from queue.store or from
HAINEKO_QUEUE_URL with its password never shown, `hainekoctl queue` through either node,
and the database stopped under the nodes:
/v1 answers 503 with Retry-After meanwhile and the nodes go on by themselves after."""

import json
import os
import sys
import time
import unittest

from harness import HOSTNAME, HainekoTestCase, run_ctl
from peers import STALL, AioPeer, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import pg_fixture  # noqa: E402


class SharedQueue(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg_dir, cls.url = pg_fixture.for_test_class(cls)
        cls.peer = cls.class_peer(AioPeer(rcpt_hook=lambda address, nth: STALL if address.startswith("slow@") else None))
        mailertable = {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.peer.port, "timeout": 5}}
        cf = {"smtpd": {"hostname": HOSTNAME}, "queue": {"store": cls.url, "min_backoff": 1, "max_backoff": 1}}
        cls.a = cls.make_server(etc={"haineko.cf": cf, "mailertable": mailertable})
        # The second node takes the URL from its environment; its haineko.cf names none.
        cf_b = {"smtpd": {"hostname": HOSTNAME}, "queue": {"min_backoff": 1, "max_backoff": 1}}
        cls.b = cls.make_server(etc={"haineko.cf": cf_b, "mailertable": mailertable},
                                env={"HAINEKO_QUEUE_URL": cls.url})

    def post(self, node, rcpts):
        resp = node.request("POST", "/v1/messages", body=json.dumps(
            {"from": "a@example.jp", "to": rcpts, "subject": "shared", "text": "t"}),
            headers={"Content-Type": "application/json"})
        return resp

    def message(self, node, mid):
        resp = node.request("GET", "/v1/messages/" + mid)
        self.assertEqual(resp.status, 200, resp.body)
        return resp.json

    def test_accepted_by_one_node_seen_and_delivered_through_both(self):
        ids = []
        for i in range(10):
            resp = self.post(self.a if i % 2 else self.b, ["n%d@example.jp" % i])
            self.assertEqual(resp.status, 202, resp.body)
            ids.append(resp.json["id"])
        for mid in ids:
            wait_for(lambda: self.message(self.b, mid)["status"] == "delivered", 20, 0.1)
            self.assertEqual(self.message(self.a, mid)["status"], "delivered")
        got = sorted(r for x in self.peer.received for r in x.rcpt_tos if r.startswith("n"))
        self.assertEqual(got, sorted("n%d@example.jp" % i for i in range(10)))  # each once
        events = self.a.request("GET", "/v1/events?after=0&limit=1000").json["events"]
        seqs = [e["seq"] for e in events]
        self.assertEqual(seqs, sorted(set(seqs)), "one sequence for the whole cluster")

    def test_queue_shows_who_holds_what(self):
        resp = self.post(self.a, ["slow@example.jp"])  # the peer never answers its RCPT (timeout 5 s)
        self.assertEqual(resp.status, 202, resp.body)
        seen = {}

        def held_by_a_node():
            q = self.b.request("GET", "/v1/queue").json
            seen["q"] = q
            return any(n["recipients"] >= 1 for n in q.get("in_flight", []))

        self.assertTrue(wait_for(held_by_a_node, 10, 0.1), seen.get("q"))
        node = [n for n in seen["q"]["in_flight"] if n["recipients"] >= 1][0]
        self.assertIn(node["node"], {"%s:%d" % (HOSTNAME, self.a.port), "%s:%d" % (HOSTNAME, self.b.port)})
        self.assertRegex(node["lease_until"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn("in_flight", self.a.request("GET", "/v1/queue").json)  # the cluster, from any node

    def test_queue_command_works_against_either_node(self):
        resp = self.a.request("POST", "/v1/messages", body=json.dumps(
            {"from": "a@example.jp", "to": "later@example.jp", "subject": "cli on b", "text": "t",
             "send_at": "2099-01-01T00:00:00Z"}), headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, 202, resp.body)
        mid = resp.json["id"]

        def ctl(node, *args):
            run = run_ctl("queue", *args, "-p", str(node.port))
            self.assertEqual(run.returncode, 0, run.stderr)
            return run.stdout

        self.assertIn("later@example.jp", ctl(self.b, "show", mid))  # accepted by a, read through b
        self.assertIn(mid, ctl(self.b, "list", "--status", "pending"))
        ctl(self.b, "hold", mid)
        self.assertEqual(self.message(self.a, mid)["recipients"][0]["status"], "held")
        ctl(self.a, "release", mid)
        self.assertEqual(self.message(self.b, mid)["recipients"][0]["status"], "queued")
        self.assertIn("in_flight", json.loads(ctl(self.a, "stats", "--json")))  # the cluster's counts
        ctl(self.b, "delete", mid)
        self.assertEqual(self.message(self.a, mid)["recipients"][0]["status"], "cancelled")

    def test_conf_shows_the_store_without_its_password(self):
        for node in (self.a, self.b):
            conf = node.request("GET", "/conf").json["haineko.cf"]["data"]["queue"]
            self.assertEqual(conf["store"], "postgresql")
            self.assertNotIn("haineko-test", conf["url"])
            self.assertIn("********", conf["url"])
            self.assertNotIn("haineko-test", node.stderr_text())

    def test_database_stopped_then_back(self):
        pg_fixture.stop_server(self.pg_dir)
        try:
            resp = self.post(self.a, ["down@example.jp"])
            self.assertEqual(resp.status, 503, resp.body)
            self.assertTrue(resp.header("Retry-After"))
            self.assertEqual(resp.json["error"]["code"], "queue-unavailable")
            self.assertTrue(self.a.alive() and self.b.alive())
        finally:
            pg_fixture.start_server(self.pg_dir)
        # Back by themselves: the next calls connect again.
        ok = {}

        def accepted():
            resp = self.post(self.b, ["back@example.jp"])
            ok["resp"] = resp
            return resp.status == 202

        self.assertTrue(wait_for(accepted, 20, 0.5), ok.get("resp"))
        mid = ok["resp"].json["id"]
        wait_for(lambda: self.message(self.a, mid)["status"] == "delivered", 20, 0.2)
        self.assertEqual(self.message(self.a, mid)["status"], "delivered")


if __name__ == "__main__":
    unittest.main()
