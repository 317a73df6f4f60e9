"""hainekoctl queue against a running server: list, show, flush, hold, release, delete and
stats, as tables and as --json; exit 1 when the server answers an error, 3 when no server
answers."""

import json
import unittest

from harness import HOSTNAME, HainekoTestCase, free_port, run_ctl
from peers import wait_for


class QueueCommand(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.down = free_port()  # a relay that is down: mail stays deferred
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME}, "queue": {"min_backoff": 600, "max_backoff": 600}},
            "mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.down, "timeout": 5}}})

    def ctl(self, *args):
        return run_ctl("queue", *args, "-p", str(self.server.port))

    def deferred(self, subject):
        resp = self.server.request("POST", "/v1/messages", body=json.dumps(
            {"from": "kijitora@example.jp", "to": "neko@example.jp", "subject": subject, "text": "t"}))
        self.assertEqual(resp.status, 202, resp.body)
        mid = resp.json["id"]
        wait_for(lambda: self.server.request("GET", "/v1/messages/" + mid).json["recipients"][0]["status"]
                 == "deferred", 10, 0.1)
        return mid

    def state(self, mid):
        return self.server.request("GET", "/v1/messages/" + mid).json["recipients"][0]["status"]

    def test_list_show_and_stats(self):
        mid = self.deferred("cli list")
        listed = self.ctl("list", "--status", "pending")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("ID", listed.stdout.splitlines()[0])
        self.assertIn(mid, listed.stdout)
        self.assertIn("cli list", listed.stdout)
        as_json = json.loads(self.ctl("list", "--json").stdout)
        self.assertIn(mid, [m["id"] for m in as_json["messages"]])
        shown = self.ctl("show", mid)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("neko@example.jp", shown.stdout)
        self.assertIn("deferred", shown.stdout)
        self.assertIn("accepted", shown.stdout)
        self.assertEqual(json.loads(self.ctl("show", mid, "--json").stdout)["id"], mid)
        stats = self.ctl("stats")
        self.assertEqual(stats.returncode, 0, stats.stderr)
        self.assertRegex(stats.stdout, r"deferred [1-9]")
        self.assertIn("ESMTP", stats.stdout)
        self.assertIn("by_route", json.loads(self.ctl("stats", "--json").stdout))

    def test_hold_release_flush_and_delete(self):
        mid = self.deferred("cli act")
        self.assertEqual(self.ctl("hold", mid).returncode, 0)
        self.assertEqual(self.state(mid), "held")
        self.assertEqual(self.ctl("release", mid).returncode, 0)
        self.assertIn(self.state(mid), ("deferred", "queued"))
        wait_for(lambda: self.state(mid) == "deferred", 10, 0.1)
        flushed = self.ctl("flush")
        self.assertEqual(flushed.returncode, 0, flushed.stderr)
        self.assertRegex(flushed.stdout, r"^\d+ deferred recipient\(s\) are due now")
        self.assertEqual(self.ctl("flush", mid).returncode, 0)
        deleted = self.ctl("delete", mid)
        self.assertEqual(deleted.returncode, 0, deleted.stderr)
        wait_for(lambda: self.state(mid) == "cancelled", 10, 0.1)
        self.assertEqual(self.state(mid), "cancelled")
        again = self.ctl("delete", mid)
        self.assertEqual(again.returncode, 1)
        self.assertIn("not-pending", again.stderr)

    def test_errors_and_no_server(self):
        unknown = self.ctl("show", "nosuchid")
        self.assertEqual(unknown.returncode, 1)
        self.assertIn("not-found", unknown.stderr)
        nobody = run_ctl("queue", "stats", "-p", str(free_port()))
        self.assertEqual(nobody.returncode, 3)
        self.assertIn("no server answers", nobody.stderr)
        self.assertEqual(run_ctl("queue").returncode, 2)
        self.assertEqual(run_ctl("queue", "show").returncode, 2)


if __name__ == "__main__":
    unittest.main()
