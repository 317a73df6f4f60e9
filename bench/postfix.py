"""A private Postfix instance, the anchor for the queued path: smtpd on a free port, relayhost a sink.

Postfix starts an instance from another config directory only when /etc/postfix/main.cf
lists it in alternate_config_directories; Debian's "No configuration" install has no
main.cf at all. So the instance lives in one fixed directory, and start() adds that
directory to the list (creating main.cf if needed) and stop() puts main.cf back as it was.
Its data_directory must belong to postfix. Until its own logger runs, Postfix reports
errors only to syslog, so a failed start is explained by `postfix check` here.
"""
import os
import shutil
import subprocess
import time

from harness import free_port, wait_port

MAIN_CF = "/etc/postfix/main.cf"
HOME = "/var/tmp/haineko-bench-postfix"

# The services a relay needs, none chrooted (a chroot would need copies of /etc files).
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

# Postfix's defaults otherwise: a durable queue (fsync per message), 20 parallel
# deliveries per destination, connection caching on demand.
MAIN_CF_TEMPLATE = """\
compatibility_level = 3.6
queue_directory = {home}/spool
data_directory = {home}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-bench.haineko.test
mydestination =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink_port}
smtp_tls_security_level = none
maillog_file = {home}/maillog
biff = no
"""


class Postfix:
    def __init__(self, sink_port):
        self.sink_port = sink_port
        self.port = free_port()
        self.etc = os.path.join(HOME, "etc")
        self._saved_main_cf = None

    def start(self):
        if os.geteuid() != 0:
            raise RuntimeError("the Postfix anchor needs root (it starts its own Postfix instance)")
        self.stop_leftover()
        shutil.rmtree(HOME, ignore_errors=True)
        for sub in ("etc", "spool", "data"):
            os.makedirs(os.path.join(HOME, sub))
        shutil.chown(os.path.join(HOME, "data"), "postfix")
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF_TEMPLATE.format(home=HOME, sink_port=self.sink_port))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
        self._allow_config_directory()
        started = subprocess.run(["postfix", "-c", self.etc, "start"], capture_output=True, text=True)
        if started.returncode != 0:
            check = subprocess.run(["postfix", "-c", self.etc, "check"], capture_output=True, text=True)
            raise RuntimeError(f"postfix did not start: {started.stderr.strip()} {check.stderr.strip()}")
        wait_port(self.port, timeout=20)

    def stop(self):
        subprocess.run(["postfix", "-c", self.etc, "stop"], capture_output=True)
        deadline = time.time() + 10
        while time.time() < deadline and self._running():
            time.sleep(0.1)
        self._restore_main_cf()
        shutil.rmtree(HOME, ignore_errors=True)

    def stop_leftover(self):
        """A run that was killed may have left its instance running."""
        if os.path.exists(os.path.join(HOME, "etc", "main.cf")):
            subprocess.run(["postfix", "-c", os.path.join(HOME, "etc"), "stop"], capture_output=True)

    def _running(self):
        return subprocess.run(["postfix", "-c", self.etc, "status"], capture_output=True).returncode == 0

    def _allow_config_directory(self):
        if os.path.exists(MAIN_CF):
            with open(MAIN_CF) as f:
                self._saved_main_cf = f.read()
            listed = subprocess.run(["postconf", "-h", "alternate_config_directories"],
                                    capture_output=True, text=True).stdout.split()
            if self.etc in [d.rstrip(",") for d in listed]:
                return
            subprocess.run(["postconf", "-e", f"alternate_config_directories = {' '.join(listed + [self.etc])}"],
                           check=True)
        else:
            with open(MAIN_CF, "w") as f:
                f.write(f"# written by Haineko's bench/postfix.py for its Postfix instance; removed after\n"
                        f"alternate_config_directories = {self.etc}\n")

    def _restore_main_cf(self):
        if self._saved_main_cf is None:
            if os.path.exists(MAIN_CF):
                with open(MAIN_CF) as f:
                    ours = f.read().startswith("# written by Haineko's bench")
                if ours:
                    os.unlink(MAIN_CF)
            return
        with open(MAIN_CF, "w") as f:
            f.write(self._saved_main_cf)
