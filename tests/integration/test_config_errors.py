"""Missing and broken configuration: a named config or root that is not there is exit 2
with the path looked for (only a root with no etc/ at all runs on built-in defaults, and
says so); hainekoctl check prints every problem; broken YAML is FILE:LINE; routes that
cannot work fail their recipients at send time without reaching the peer."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import (HAINEKOCTL, HOSTNAME, ConfigErrorAssertions, Haineko, HainekoTestCase, clean_env, free_port,
                     message, run_broken, setup_tree)
from peers import SmtpSink

MAILERS = ("ESMTP", "MX", "Haineko", "SendGrid", "AmazonSES", "Mandrill", "Postmark", "Mailgun", "Discard",
           "Screen", "File")

# Each level holds nine of the one before: 9**9 (387 million) values once expanded.
ALIAS_BOMB = "smtpd:\n  hostname: bomb.example.net\n" + "".join(
    "%s: &%s [%s]\n" % (name, name, ",".join(["*" + prev] * 9) if prev else ",".join(['"lol"'] * 9))
    for prev, name in zip([None, "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi"))


def tempdir(test):
    d = tempfile.mkdtemp(prefix="haineko-conf-")
    test.addCleanup(shutil.rmtree, d, True)
    return d


class MissingConfig(ConfigErrorAssertions, unittest.TestCase):
    """Each named-but-missing configuration is exit 2 with the path it looked for."""

    def run_server(self, *args, env=None, cwd=None):
        return run_broken(self, "run", "-o", "127.0.0.1", "-p", str(free_port()), *args, env=env, cwd=cwd)

    def assertExit2Naming(self, proc, path):
        self.assertEqual(proc.returncode, 2, "exit %s; stderr: %s" % (proc.returncode, proc.stderr))
        self.assertIn(path, proc.stderr, "the error must name the path looked for")

    def test_conf_flag_naming_a_missing_file(self):
        root = setup_tree(self)
        missing = os.path.join(tempdir(self), "nonexistent", "haineko.cf")
        self.assertExit2Naming(self.run_server("-C", missing, env={"HAINEKO_ROOT": root}), missing)

    def test_haineko_conf_naming_a_missing_file(self):
        root = setup_tree(self)
        missing = os.path.join(tempdir(self), "nonexistent")
        self.assertExit2Naming(self.run_server(env={"HAINEKO_ROOT": root, "HAINEKO_CONF": missing}), missing)

    def test_haineko_root_naming_a_missing_directory(self):
        missing = os.path.join(tempdir(self), "nonexistent-dir")
        self.assertExit2Naming(self.run_server(env={"HAINEKO_ROOT": missing}), missing)

    def test_conf_flag_naming_a_directory(self):
        root = setup_tree(self)
        directory = os.path.join(root, "etc")
        proc = self.run_server("-C", directory, env={"HAINEKO_ROOT": root})
        self.assertExit2Naming(proc, directory)
        self.assertIn("directory", proc.stderr)

    def test_etc_without_haineko_cf(self):
        root = setup_tree(self)
        os.unlink(os.path.join(root, "etc", "haineko.cf"))
        proc = self.run_server(env={"HAINEKO_ROOT": root})
        self.assertExit2Naming(proc, os.path.join(root, "etc", "haineko.cf"))

    def test_check_also_names_the_missing_file(self):
        root = setup_tree(self)
        missing = os.path.join(tempdir(self), "nonexistent", "haineko.cf")
        proc = run_broken(self, "check", "-C", missing, env={"HAINEKO_ROOT": root})
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn(missing, proc.stdout + proc.stderr)


class StartupLine(HainekoTestCase):
    start_server = False

    def startup_line(self, srv):
        lines = srv.wait_log(" listening on ")
        self.assertEqual(len(lines), 1, srv.stderr_text())
        return lines[0]

    def test_root_without_etc_runs_on_built_in_defaults_and_says_so(self):
        srv = Haineko(use_defaults=False)
        self.addCleanup(srv.cleanup)
        shutil.rmtree(srv.etc)
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        self.assertEqual(srv.request("GET", "/").status, 200)
        line = self.startup_line(srv)
        self.assertIn(srv.root, line, "the startup line must name the root")
        self.assertIn("built-in defaults", line)
        conf = srv.request("GET", "/conf")
        self.assertEqual(conf.status, 200, conf)
        self.assertIsNone(conf.json["haineko.cf"]["path"], conf.json["haineko.cf"])

    def test_startup_line_names_the_config_file(self):
        srv = self.start_own_server()
        line = self.startup_line(srv)
        self.assertIn(os.path.join(srv.etc, "haineko.cf"), line)
        self.assertNotIn("built-in defaults", line)
        self.assertIn(srv.root, line)

    def test_startup_line_names_the_config_given_with_C(self):
        srv = Haineko()
        self.addCleanup(srv.cleanup)
        other = os.path.join(srv.root, "other.cf")
        with open(other, "w") as f:
            f.write("smtpd:\n  hostname: other.example.net\n")
        srv.args = ["-C", other]
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        self.assertIn(other, self.startup_line(srv))


class Check(unittest.TestCase):
    def check(self, root, *args):
        proc = run_broken(self, "check", *args, env={"HAINEKO_ROOT": root})
        return proc, proc.stdout + proc.stderr

    def test_setup_tree_passes(self):
        root = setup_tree(self)
        proc, out = self.check(root)
        self.assertEqual(proc.returncode, 0, out)
        self.assertNotIn("error:", out)

    def test_every_problem_is_printed(self):
        root = setup_tree(self)
        etc = os.path.join(root, "etc")
        with open(os.path.join(etc, "haineko.cf"), "w") as f:
            f.write("smtpd:\n  hostname: check.example.net\n  max_workers: many\n")
        with open(os.path.join(etc, "mailertable"), "w") as f:
            f.write("default:\n  mailer: File\n  path: outbox\n"
                    "lower.example.jp:\n  mailer: esmtp\n  host: 127.0.0.1\n"
                    "nokey.example.jp:\n  mailer: ESMTP\n  host: 127.0.0.1\n  auth: nokey\n")
        proc, out = self.check(root)
        self.assertEqual(proc.returncode, 2, out)
        errors = [l for l in out.splitlines() if l.startswith("error:")]
        self.assertEqual(len(errors), 3, out)
        by = {k: [l for l in errors if k in l] for k in ("esmtp", "nokey", "max_workers")}
        for key, lines in by.items():
            self.assertEqual(len(lines), 1, "one error about %s expected:\n%s" % (key, out))
        for name in MAILERS:
            self.assertIn(name, by["esmtp"][0], "the valid mailer names must be listed")
        # FILE:LINE pointing into the entry: from its key's line to the faulty value's
        mailertable = os.path.join(etc, "mailertable")
        for key, path, first, last in (("esmtp", mailertable, 4, 5), ("nokey", mailertable, 7, 10),
                                       ("max_workers", os.path.join(etc, "haineko.cf"), 3, 3)):
            m = re.search(re.escape(path) + r":(\d+)", by[key][0])
            self.assertIsNotNone(m, "no FILE:LINE in %r" % by[key][0])
            self.assertTrue(first <= int(m.group(1)) <= last, by[key][0])

    def test_broken_yaml_is_one_error_with_its_line(self):
        root = setup_tree(self)
        with open(os.path.join(root, "etc", "recipients"), "w") as f:
            f.write("open-relay: 0\ndomainpart: [example.jp, 'example.com\n")
        proc, out = self.check(root)
        self.assertEqual(proc.returncode, 2, out)
        self.assertRegex(out, re.escape(os.path.join(root, "etc", "recipients")) + r":\d+")


class BrokenFiles(ConfigErrorAssertions, unittest.TestCase):
    def run_with(self, files):
        srv = Haineko(etc=files)
        self.addCleanup(srv.cleanup)
        proc = run_broken(self, "run", "-o", "127.0.0.1", "-p", str(free_port()), env={"HAINEKO_ROOT": srv.root})
        return srv, proc

    def test_dns_server_that_is_not_an_ip(self):
        srv, proc = self.run_with({"haineko.cf": "smtpd:\n  hostname: dns.example.net\n  dns_servers:\n"
                                                 "    - 127.0.0.1\n    - 'not-an-ip'\n"})
        line = self.assert_one_line_error(proc, os.path.join(srv.etc, "haineko.cf"), 5)
        self.assertIn("not-an-ip", line)

    def test_dns_server_in_a_flow_list(self):
        srv, proc = self.run_with({"haineko.cf": "smtpd:\n  hostname: dns.example.net\n"
                                                 "  dns_servers: ['not-an-ip']\n"})
        self.assert_one_line_error(proc, os.path.join(srv.etc, "haineko.cf"), 3)

    def test_unclosed_quote_in_mailertable(self):
        srv, proc = self.run_with({"mailertable": "default:\n  mailer: 'File\n  path: outbox\n"
                                                  "example.jp:\n  mailer: Discard\n"})
        self.assert_one_line_error(proc, os.path.join(srv.etc, "mailertable"), 2)

    def test_unclosed_double_quote_at_the_end(self):
        srv, proc = self.run_with({"mailertable": "default:\n  mailer: File\n  path: \"outbox\n"})
        self.assert_one_line_error(proc, os.path.join(srv.etc, "mailertable"), 3)

    def test_list_as_a_mailertable_key(self):
        srv, proc = self.run_with({"mailertable": "default:\n  mailer: File\n  path: outbox\n"
                                                  "[a, b]: {mailer: File}\n"})
        self.assert_one_line_error(proc, os.path.join(srv.etc, "mailertable"), 4)

    def run_measured(self, haineko_cf, limit=30):
        """hainekoctl run on a tree with this haineko.cf: (exit status, stderr, CPU seconds,
        peak RSS in KiB); fails the test if it is still running after limit seconds of wall
        time, which is generous because a loaded CI machine may not run it at once."""
        srv = Haineko(etc={"haineko.cf": haineko_cf})
        self.addCleanup(srv.cleanup)
        env = clean_env()
        env["HAINEKO_ROOT"] = srv.root
        start = time.monotonic()
        proc = subprocess.Popen([HAINEKOCTL, "run", "-o", "127.0.0.1", "-p", str(free_port())], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > limit:
                proc.kill()
                proc.wait()
                proc.stderr.close()
                self.fail("hainekoctl still busy after %d s" % limit)
            time.sleep(0.02)
        cpu = rusage.ru_utime + rusage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        return proc.returncode, err, cpu, rusage.ru_maxrss, os.path.join(srv.etc, "haineko.cf")

    def test_alias_bomb(self):
        self.assertLess(len(ALIAS_BOMB), 600, ALIAS_BOMB)
        # the same binary on a small broken file, for the memory it needs anyway
        _rc, _err, baseline_cpu, baseline, _path = self.run_measured("smtpd:\n  hostname: [unclosed\n")
        rc, err, cpu, peak, path = self.run_measured(ALIAS_BOMB)
        self.assertEqual(rc, 2, err)
        self.assertIn("expands to more than 1000000 values", err)
        # The refusal walks each anchor once (a few hundred steps; config_test.cpp proves
        # the count), so its cost is the binary's start. The bar is loose on purpose: a
        # busy CI machine charged 2 s of CPU and 5 s of wall time for 0.05 s of work here,
        # while expanding its 9^9 values would take tens of seconds, or gigabytes.
        self.assertLess(cpu, 10.0, "an alias bomb took %.1f s of CPU to refuse (%.2f s on a small broken file)"
                        % (cpu, baseline_cpu))
        self.assertLess(peak - baseline, 100 * 1024,
                        "peak memory %d KiB (%d KiB on a small broken file)" % (peak, baseline))
        self.assertRegex(err, re.escape(path) + r":\d+")


class RoutesThatCannotWork(HainekoTestCase):
    """An unknown mailer and a missing auth key are reported at load and fail their
    recipients at send time; nothing reaches the peer."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = cls.class_peer(SmtpSink())
        route = {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.sink.port, "timeout": 5,
                 "auth_plaintext": 1}
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 1}},
            "mailertable": {
                "default": {"mailer": "File", "path": "outbox"},
                "unknown.example.jp": dict(route, mailer="esmtp"),
                "empty.example.jp": dict(route, mailer=""),
                "nokey.example.jp": dict(route, auth="nokey"),
                "ok.example.jp": dict(route),
            },
            "recipients": {"domainpart": ["unknown.example.jp", "empty.example.jp", "nokey.example.jp",
                                          "ok.example.jp"]},
        })

    def post(self, rcpt):
        resp = self.server.submit(message(rcpt=[rcpt]))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.json["response"]), 1, resp.json)
        return resp.json["response"][0]

    def test_problems_are_logged_at_load(self):
        self.assertTrue(self.server.log_lines("esmtp"), self.server.stderr_text())
        self.assertTrue(self.server.log_lines("nokey"), self.server.stderr_text())

    def test_unknown_mailer(self):
        for rcpt in ("neko@unknown.example.jp", "neko@empty.example.jp"):
            with self.subTest(rcpt=rcpt):
                entry = self.post(rcpt)
                self.assertEqual(entry["error"], 1, entry)
                self.assertEqual(int(entry["code"]), 500, entry)
                self.assertEqual(entry["rcpt"], rcpt, entry)
                self.assertTrue(entry["message"] and all(entry["message"]), "a message saying why: %r" % entry)
                self.assertEqual(self.sink.for_rcpt(rcpt), [], "an unknown mailer reached the peer")

    def test_missing_auth_key(self):
        rcpt = "neko@nokey.example.jp"
        entry = self.post(rcpt)
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(int(entry["code"]), 530, entry)
        self.assertEqual(entry["dsn"], "5.7.0", entry)
        self.assertIn("nokey", " ".join(entry["message"]), entry)
        self.assertEqual(self.sink.for_rcpt(rcpt), [], "sent without the credentials the route names")

    def test_control_a_good_route_to_the_same_peer(self):
        entry = self.post("neko@ok.example.jp")
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(len(self.sink.wait_for_rcpt("neko@ok.example.jp")), 1)


if __name__ == "__main__":
    unittest.main()
