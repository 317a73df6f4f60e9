"""hainekoctl setup, start/status/stop/restart with a pid file, help and usage errors."""

import glob
import os
import shutil
import stat
import tempfile
import unittest

from harness import HainekoTestCase, Haineko, answering, free_port, kill_quietly, pid_gone, run_ctl

SETUP_FILES = ("haineko.cf", "mailertable", "sendermt", "authinfo", "relayhosts", "recipients", "password")
SECRET_FILES = ("authinfo", "password")

# The README's quick start: relaxed JSON as the original's curl examples write it.
QUICKSTART_BODY = (
    '{ ehlo: "[127.0.0.1]", mail: "kijitora@example.jp", rcpt: ["haineko@example.org"], '
    'header: { from: "Kijitora <kijitora@example.jp>", subject: "My cat is gray" }, '
    'body: "Nyaaaaaa!" }'
)


def tempdir(test):
    d = tempfile.mkdtemp(prefix="haineko-cli-")
    test.addCleanup(shutil.rmtree, d, True)
    return d


class Setup(HainekoTestCase):
    start_server = False

    def test_setup_writes_a_working_tree(self):
        dest = os.path.join(tempdir(self), "tree")
        proc = run_ctl("setup", "--dest", dest)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for name in SETUP_FILES:
            with self.subTest(file=name):
                path = os.path.join(dest, "etc", name)
                self.assertTrue(os.path.isfile(path), path)
                mode = stat.S_IMODE(os.stat(path).st_mode)
                if name in SECRET_FILES:
                    self.assertEqual(mode, 0o600, "%s has mode %o" % (name, mode))
                else:
                    self.assertEqual(mode & 0o022, 0, "%s is writable by others: %o" % (name, mode))
                with open(path) as f:
                    self.assertIn("#", f.read(), "no comments in %s" % name)

        # run on that tree and submit as the README's quick start does
        srv = Haineko(root=dest)
        self.addCleanup(srv.cleanup)
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        resp = srv.request("POST", "/submit", body=QUICKSTART_BODY,
                           headers={"User-Agent": "curl/8.4.0", "Content-Type": "application/json"})
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)
        files = glob.glob(os.path.join(dest, "outbox", "*"))
        self.assertEqual(len([f for f in files if not os.path.basename(f).startswith(".")]), 1, files)
        (path, raw, msg), = srv.messages_for(resp.json["queueid"])
        self.assertEqual(str(msg["Subject"]), "My cat is gray")
        self.assertEqual(str(msg["To"]), "haineko@example.org")
        # the tree's relayhosts lets 127.0.0.1 in; /conf answers locally
        conf = srv.request("GET", "/conf")
        self.assertEqual(conf.status, 200, conf)

    def test_setup_keeps_existing_files_unless_forced(self):
        dest = tempdir(self)
        self.assertEqual(run_ctl("setup", "--dest", dest).returncode, 0)
        path = os.path.join(dest, "etc", "recipients")
        with open(path, "w") as f:
            f.write("open-relay: 1\n")
        proc = run_ctl("setup", "--dest", dest)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "open-relay: 1\n")
        proc = run_ctl("setup", "--dest", dest, "--force")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(path) as f:
            self.assertNotEqual(f.read(), "open-relay: 1\n")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(dest, "etc", "authinfo")).st_mode), 0o600)


class Daemon(HainekoTestCase):
    start_server = False

    def start_daemon(self):
        root = tempdir(self)
        self.assertEqual(run_ctl("setup", "--dest", root).returncode, 0)
        run_dir = tempdir(self)
        pid_file = os.path.join(run_dir, "run", "haineko.pid")
        log_file = os.path.join(run_dir, "log", "haineko.log")
        port = free_port()
        env = {"HAINEKO_ROOT": root}
        flags = ("-o", "127.0.0.1", "-p", str(port), "--pid-file", pid_file, "--log-file", log_file)
        proc = run_ctl("start", *flags, env=env)
        pid = None
        if os.path.exists(pid_file):
            with open(pid_file) as f:
                pid = int(f.read().strip())
            self.addCleanup(kill_quietly, pid)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIsNotNone(pid, "no pid file")
        os.kill(pid, 0)
        return proc, pid, pid_file, log_file, port, env, flags

    def test_start_prints_the_pid(self):
        proc, pid, pid_file, log_file, port, env, flags = self.start_daemon()
        self.assertEqual(answering(port), 200)
        self.assertRegex(proc.stdout, r"\b%d\b" % pid, "start printed no pid: %r" % proc.stdout)
        self.assertEqual(run_ctl("stop", "--pid-file", pid_file, env=env, timeout=60).returncode, 0)
        self.assertTrue(pid_gone(pid))

    def test_start_status_stop_restart(self):
        proc, pid, pid_file, log_file, port, env, flags = self.start_daemon()
        self.assertEqual(answering(port), 200)

        proc = run_ctl("status", "--pid-file", pid_file, env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(str(pid), proc.stdout)

        proc = run_ctl("start", *flags, env=env)
        self.assertNotEqual(proc.returncode, 0, "a second start succeeded")
        os.kill(pid, 0)

        proc = run_ctl("restart", *flags, env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(pid_gone(pid), "restart left the old server running")
        with open(pid_file) as f:
            new_pid = int(f.read().strip())
        self.addCleanup(kill_quietly, new_pid)
        self.assertNotEqual(new_pid, pid)
        self.assertEqual(answering(port), 200)

        proc = run_ctl("stop", "--pid-file", pid_file, env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(pid_gone(new_pid, 2), "stop returned but the server runs")
        self.assertIsNone(answering(port, timeout=1))

        proc = run_ctl("status", "--pid-file", pid_file, env=env)
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
        self.assertTrue(os.path.getsize(log_file) > 0, "nothing in the log file")

    def test_status_without_pid_file(self):
        proc = run_ctl("status", "--pid-file", os.path.join(tempdir(self), "none.pid"))
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)


class Usage(unittest.TestCase):
    def test_help(self):
        proc = run_ctl("help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for word in ("run", "start", "stop", "status", "setup", "pw"):
            self.assertIn(word, proc.stdout)

    def test_usage_errors_exit_2(self):
        cwd = tempfile.mkdtemp(prefix="haineko-cli-")
        self.addCleanup(shutil.rmtree, cwd, True)
        for args in (("frobnicate",), ("--bogus",), ("setup",), ("setup", "--dest"), ("status", "--bogus"),
                     ("run", "-x"), ("pw", "-u")):
            with self.subTest(args=args):
                try:
                    proc = run_ctl(*args, timeout=10, cwd=cwd)
                except Exception as e:
                    self.fail("%s did not exit: %s" % (args, e))
                self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                self.assertTrue(proc.stderr.strip(), "no message on stderr")


if __name__ == "__main__":
    unittest.main()
