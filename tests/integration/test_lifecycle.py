"""The server's life: one listener per port (a taken port is exit 2 naming it), the pid
file (locked: a stale one never gets a process signalled; run writes it too), restart
keeping the running server's options, reload by SIGHUP, help, setup and install."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import (HAINEKOCTL, Haineko, HainekoTestCase, answering, clean_env, free_port, kill_quietly, message,
                     pid_gone, run_ctl, setup_tree)


def message_id_pid(msg):
    """The pid part of a Message-Id <QUEUEID.PID.EPOCH.NNN@HOST>."""
    local = str(msg["Message-Id"]).strip().strip("<>").split("@")[0]
    return int(local.split(".")[1])


class OnePort(HainekoTestCase):
    start_server = False

    def test_second_server_on_the_same_port_exits_2_and_the_first_serves_all(self):
        first = self.start_own_server()
        other = Haineko()  # a working tree of its own: anything it relayed would land there
        self.addCleanup(other.cleanup)
        env = clean_env()
        env["HAINEKO_ROOT"] = other.root
        second = subprocess.Popen([HAINEKOCTL, "run", "-o", "127.0.0.1", "-p", str(first.port)], env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(kill_quietly, second.pid)
        try:
            rc = second.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        # Whether or not the second one still runs, every request must reach the first.
        queueids = []
        for n in range(20):
            resp = first.submit(message(rcpt=["port-%d@example.jp" % n]), timeout=10)
            self.assertEqual(resp.status, 200, resp)
            queueids.append(resp.json["queueid"])
        if rc is None:
            second.kill()
        out, err = second.communicate(timeout=10)
        self.assertEqual(rc, 2, "a second server on a taken port must exit 2; stderr: %r" % err)
        self.assertIn(str(first.port), err.decode("utf-8", "replace"), "the error must name the port")
        for q in queueids:
            self.assertEqual(len(first.log_lines("queueid=" + q)), 1, "no log line of the first server for " + q)
            files = first.messages_for(q)
            self.assertEqual(len(files), 1, q)
            self.assertEqual(message_id_pid(files[0][2]), first.proc.pid, "written by another process")
        self.assertEqual(other.eml_files(), [], "the second server relayed mail")
        self.assertTrue(first.alive())

    def test_port_held_by_another_program(self):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(4)
        port = holder.getsockname()[1]
        root = setup_tree(self)
        for command in ("run", "start"):
            with self.subTest(command=command):
                try:
                    proc = run_ctl(command, "-o", "127.0.0.1", "-p", str(port), env={"HAINEKO_ROOT": root},
                                   timeout=15)
                except subprocess.TimeoutExpired:
                    self.fail("hainekoctl %s kept running on a port it could not take" % command)
                self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                self.assertIn(str(port), proc.stderr, "the error must name the port")
        self.assertFalse(os.path.exists(os.path.join(root, "run", "haineko.pid")) and
                         run_ctl("status", env={"HAINEKO_ROOT": root}).returncode == 0)


class PidFile(HainekoTestCase):
    start_server = False

    def sleeper(self):
        proc = subprocess.Popen(["sleep", "60"])
        self.addCleanup(proc.wait)
        self.addCleanup(kill_quietly, proc.pid)
        return proc

    def read_pid(self, path):
        with open(path) as f:
            return int(f.read().strip())

    def test_stale_pid_file_naming_an_unrelated_process(self):
        root = setup_tree(self)
        env = {"HAINEKO_ROOT": root}
        pid_file = os.path.join(root, "run", "haineko.pid")
        sleeper = self.sleeper()
        os.makedirs(os.path.dirname(pid_file), exist_ok=True)
        with open(pid_file, "w") as f:
            f.write("%d\n" % sleeper.pid)

        proc = run_ctl("status", env=env)
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
        self.assertNotIn(str(sleeper.pid), proc.stdout, "status took the stale pid for a server")
        proc = run_ctl("reload", env=env)
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
        proc = run_ctl("stop", env=env, timeout=60)
        self.assertIn(proc.returncode, (0, 3), proc.stdout + proc.stderr)
        self.assertIsNone(sleeper.poll(), "stop or reload signalled the process named by a stale pid file")

        port = free_port()
        proc = run_ctl("start", "-o", "127.0.0.1", "-p", str(port), env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        pid = self.read_pid(pid_file)
        self.addCleanup(kill_quietly, pid)
        self.assertNotEqual(pid, sleeper.pid, "start kept the stale pid")
        self.assertEqual(answering(port), 200)
        proc = run_ctl("status", env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(str(pid), proc.stdout)
        self.assertEqual(run_ctl("stop", env=env, timeout=60).returncode, 0)
        self.assertTrue(pid_gone(pid, 5))
        self.assertIsNone(sleeper.poll(), "the unrelated process died")

    def test_run_writes_the_pid_file(self):
        root = setup_tree(self)
        srv = Haineko(root=root)
        self.addCleanup(srv.cleanup)
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        env = {"HAINEKO_ROOT": root}
        pid_file = os.path.join(root, "run", "haineko.pid")
        self.assertTrue(os.path.isfile(pid_file), "hainekoctl run wrote no pid file")
        self.assertEqual(self.read_pid(pid_file), srv.proc.pid)
        proc = run_ctl("status", env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"\b%d\b" % srv.proc.pid)
        self.assertEqual(srv.stop(), 0)
        proc = run_ctl("status", env=env)
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)

    def test_run_named_pid_file_and_stop_by_it(self):
        root = setup_tree(self)
        pid_file = os.path.join(tempfile.mkdtemp(prefix="haineko-pid-"), "sub", "h.pid")
        self.addCleanup(shutil.rmtree, os.path.dirname(os.path.dirname(pid_file)), True)
        srv = Haineko(root=root, args=("--pid-file", pid_file))
        self.addCleanup(srv.cleanup)
        srv.start()
        self.addCleanup(srv.stop)
        self.assertEqual(self.read_pid(pid_file), srv.proc.pid)
        proc = run_ctl("stop", "--pid-file", pid_file, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(srv.proc.wait(10), 0)
        self.assertFalse(os.path.exists(pid_file), "the pid file outlived its server")


class Restart(HainekoTestCase):
    start_server = False

    def start_daemon(self, *args, env):
        proc = run_ctl("start", *args, env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return proc

    def current_pid(self, pid_file):
        with open(pid_file) as f:
            pid = int(f.read().strip())
        self.addCleanup(kill_quietly, pid)
        return pid

    def test_restart_keeps_the_options_and_takes_new_ones(self):
        root = setup_tree(self)
        pid_file = os.path.join(root, "run", "named.pid")
        log_file = os.path.join(root, "log", "haineko.log")
        p1, p2 = free_port(), free_port()
        while p2 == p1:
            p2 = free_port()
        self.start_daemon("-o", "127.0.0.1", "-p", str(p1), "--pid-file", pid_file, "-t", "1",
                          env={"HAINEKO_ROOT": root})
        first = self.current_pid(pid_file)
        self.addCleanup(run_ctl, "stop", "--pid-file", pid_file, timeout=60)
        self.assertEqual(answering(p1), 200)

        # restart with the pid file only, from elsewhere and without HAINEKO_ROOT: the
        # running server's port, loops and root are kept
        elsewhere = tempfile.mkdtemp(prefix="haineko-cwd-")
        self.addCleanup(shutil.rmtree, elsewhere, True)
        proc = run_ctl("restart", "--pid-file", pid_file, timeout=60, cwd=elsewhere)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertTrue(pid_gone(first, 5), "the old server still runs")
        second = self.current_pid(pid_file)
        self.assertNotEqual(second, first)
        self.assertEqual(answering(p1), 200, "the restarted server does not answer on the port it had")
        with open(log_file) as f:
            starts = [l for l in f if " listening on " in l]
        self.assertGreaterEqual(len(starts), 2, starts)
        self.assertIn("127.0.0.1:%d" % p1, starts[-1])
        self.assertIn("with 1 event loop", starts[-1], "-t 1 was forgotten")
        self.assertIn("root " + root, starts[-1], "HAINEKO_ROOT was forgotten")

        # options given to restart win
        proc = run_ctl("restart", "--pid-file", pid_file, "-p", str(p2), timeout=60, cwd=elsewhere)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertTrue(pid_gone(second, 5))
        third = self.current_pid(pid_file)
        self.assertEqual(answering(p2), 200, "restart -p did not move the server")
        self.assertIsNone(answering(p1, timeout=0.5), "still answering on the old port")
        with open(log_file) as f:
            starts = [l for l in f if " listening on " in l]
        self.assertIn("with 1 event loop", starts[-1])

        proc = run_ctl("stop", "--pid-file", pid_file, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertTrue(pid_gone(third, 5))


class Reload(HainekoTestCase):
    start_server = False

    def test_reload_command_sends_sighup(self):
        root = setup_tree(self)
        env = {"HAINEKO_ROOT": root}
        with open(os.path.join(root, "etc", "recipients"), "w") as f:
            f.write("open-relay: 0\ndomainpart:\n  - example.jp\n")
        srv = Haineko(root=root, args=("-t", "1"))
        self.addCleanup(srv.cleanup)
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        self.assertEqual(srv.submit(message(rcpt=["a@example.net"])).status, 400)

        with open(os.path.join(root, "etc", "recipients"), "w") as f:
            f.write("open-relay: 0\ndomainpart:\n  - example.net\n")
        proc = run_ctl("reload", env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertTrue(srv.wait_log("configuration reloaded"), srv.stderr_text())
        resp = srv.submit(message(rcpt=["a@example.net"]))
        self.assertEqual(resp.status, 200, "the new recipients file did not apply: %r" % resp)
        self.assertTrue(srv.alive())
        self.assertEqual(srv.stop(), 0)

        proc = run_ctl("reload", env=env)
        self.assertEqual(proc.returncode, 3, "reload with no server running: " + proc.stdout + proc.stderr)

    def test_reload_without_any_pid_file(self):
        root = setup_tree(self)
        proc = run_ctl("reload", env={"HAINEKO_ROOT": root})
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)


class HelpSetupInstall(unittest.TestCase):
    COMMAND_OPTIONS = {
        "run": ("--host", "--port", "--conf", "--auth", "--devel", "--threads", "--pid-file", "--log-file"),
        "start": ("--host", "--port", "--conf", "--auth", "--devel", "--threads", "--pid-file", "--log-file"),
        "restart": ("--host", "--port", "--conf", "--threads", "--pid-file", "--log-file"),
        "stop": ("--pid-file",),
        "status": ("--pid-file",),
        "reload": ("--pid-file",),
        "check": ("--conf",),
        "setup": ("--dest", "--force"),
        "pw": ("--user", "--password", "--scheme"),
    }

    def help_sections(self):
        """hainekoctl help cut at its usage lines: {command: its part of the text}."""
        proc = run_ctl("help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        sections, current = {}, None
        for line in proc.stdout.splitlines():
            m = re.match(r"^Usage: (?:hainekoctl )?(\S+)", line)
            if m and m.group(1) != "COMMAND":
                current = m.group(1)
                sections[current] = []
            if current:
                sections[current].append(line)
        return {k: "\n".join(v) for k, v in sections.items()}

    def test_help_lists_each_commands_options(self):
        sections = self.help_sections()
        for command, options in self.COMMAND_OPTIONS.items():
            with self.subTest(command=command):
                self.assertIn(command, sections, "hainekoctl help has no usage line for %s" % command)
                for option in options:
                    self.assertIn(option, sections[command], "hainekoctl help lists no %s for %s" % (option, command))
                one = run_ctl("help", command)
                self.assertEqual(one.returncode, 0, one.stderr)
                for option in options:
                    self.assertIn(option, one.stdout, "hainekoctl help %s does not list %s" % (command, option))
        self.assertNotIn("--scheme", sections.get("setup", ""))
        self.assertEqual(run_ctl("help", "no-such-command").returncode, 2)

    def test_help_usage_lines_name_the_command_once(self):
        proc = run_ctl("help")
        for command in self.COMMAND_OPTIONS:
            with self.subTest(command=command):
                usage = [l for l in proc.stdout.splitlines() if re.match(r"^Usage: (hainekoctl )?%s\b" % command, l)]
                self.assertEqual(len(usage), 1, proc.stdout)
                self.assertNotRegex(usage[0], r"\b%s %s\b" % (command, command),
                                    "the usage line tells the user to type the command twice")

    def test_setup_prints_the_real_path_of_hainekoctl(self):
        parent = tempfile.mkdtemp(prefix="haineko-setup-")
        self.addCleanup(shutil.rmtree, parent, True)
        proc = run_ctl("setup", "--dest", "tree", cwd=parent)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = re.search(r"HAINEKO_ROOT=(\S+) (\S+) run", proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        root, binary = m.group(1), m.group(2)
        self.assertTrue(os.path.isabs(root), root)
        self.assertEqual(os.path.realpath(root), os.path.realpath(os.path.join(parent, "tree")))
        self.assertTrue(os.path.isabs(binary), "not an absolute path: %r" % binary)
        self.assertTrue(os.path.isfile(binary) and os.access(binary, os.X_OK), binary)
        self.assertTrue(os.path.samefile(binary, HAINEKOCTL), "%s is not the hainekoctl that ran" % binary)

    def test_cmake_install_installs_hainekoctl(self):
        cmake = shutil.which("cmake")
        self.assertIsNotNone(cmake, "cmake is needed by this test")
        build_dir = os.path.dirname(os.path.realpath(HAINEKOCTL))
        self.assertTrue(os.path.isfile(os.path.join(build_dir, "cmake_install.cmake")),
                        "%s is not a CMake build directory" % build_dir)
        prefix = tempfile.mkdtemp(prefix="haineko-install-")
        self.addCleanup(shutil.rmtree, prefix, True)
        proc = subprocess.run([cmake, "--install", build_dir, "--prefix", prefix], capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        installed = os.path.join(prefix, "bin", "hainekoctl")
        self.assertTrue(os.path.isfile(installed) and os.access(installed, os.X_OK), os.listdir(prefix))
        proc = subprocess.run([installed, "help"], capture_output=True, text=True, timeout=30, env=clean_env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("--pid-file", proc.stdout)


if __name__ == "__main__":
    unittest.main()
