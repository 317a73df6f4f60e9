"""contrib/systemd/haineko.service (issue 11): systemd's own checker accepts it without a
warning, it keeps the hardening it promises, and its ExecStart and ExecReload lines, run by
hand on a tree that `hainekoctl setup` wrote, start a server that answers, reloads on
SIGHUP and stops cleanly on SIGTERM."""

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import HAINEKOCTL, free_port, require_binary
from peers import wait_for

UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib", "systemd",
                    "haineko.service")


def directives(path):
    """{key: [values]} of the [Service] and [Unit] sections."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or line.startswith("["):
                continue
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def read(path):
    with open(path) as f:
        return f.read()


class SystemdUnit(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_binary()
        cls.d = directives(UNIT)

    def test_systemd_analyze_accepts_it_without_a_warning(self):
        self.assertTrue(shutil.which("systemd-analyze"), "systemd-analyze is missing")
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        copy = os.path.join(tmp, "haineko.service")
        with open(UNIT) as f:
            text = f.read().replace("/usr/local/bin/hainekoctl", os.path.abspath(HAINEKOCTL))
        with open(copy, "w") as f:
            f.write(text)
        proc = subprocess.run(["systemd-analyze", "verify", "--man=no", copy], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("haineko.service", proc.stderr, proc.stderr)  # no unknown key, no bad value

    def test_hardening(self):
        want = {"User": "haineko", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                "PrivateTmp": "yes", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
                "AmbientCapabilities": "CAP_NET_BIND_SERVICE", "MemoryDenyWriteExecute": "yes",
                "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX"}
        for key, value in want.items():
            self.assertEqual(self.d.get(key), [value], key)
        writable = self.d["ReadWritePaths"][0].split()
        self.assertIn("/var/lib/haineko/var", writable)  # the queue
        self.assertNotIn("/var/lib/haineko", writable)   # not the configuration
        self.assertIn("HAINEKO_ROOT=/var/lib/haineko", self.d["Environment"])

    def test_its_command_lines_start_reload_and_stop_a_server(self):
        root = tempfile.mkdtemp(prefix="haineko-unit-")
        self.addCleanup(shutil.rmtree, root, True)
        setup = subprocess.run([HAINEKOCTL, "setup", "--dest", root], capture_output=True, text=True, timeout=30)
        self.assertEqual(setup.returncode, 0, setup.stderr)
        port = free_port()
        argv = shlex.split(self.d["ExecStart"][0])
        self.assertEqual(argv[:2], ["/usr/local/bin/hainekoctl", "run"])
        argv[0] = HAINEKOCTL
        argv[argv.index("-p") + 1] = str(port)
        argv[argv.index("--pid-file") + 1] = os.path.join(root, "haineko.pid")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HAINEKO_ROOT": root}
        log = open(os.path.join(root, "server.log"), "w+")
        self.addCleanup(log.close)
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def answers():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        self.assertTrue(wait_for(answers, 15, 0.1), read(log.name))
        with open(os.path.join(root, "haineko.pid")) as f:
            self.assertEqual(int(f.read().split()[0]), proc.pid)
        # ExecReload is "kill -HUP $MAINPID".
        reload = self.d["ExecReload"][0].replace("$MAINPID", str(proc.pid))
        self.assertEqual(subprocess.run(shlex.split(reload), timeout=10).returncode, 0)
        self.assertTrue(wait_for(lambda: "configuration reloaded" in read(log.name), 10, 0.1),
                        read(log.name))
        self.assertEqual(self.d["KillSignal"], ["SIGTERM"])
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=int(self.d["TimeoutStopSec"][0])), 0, read(log.name))


if __name__ == "__main__":
    unittest.main()
