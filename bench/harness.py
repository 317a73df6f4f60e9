"""The processes a benchmark runs: smtp-sink, Haineko and wrk, each on ports picked at run time."""
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def wait_for_count(read, expected, timeout=10):
    """Polls read() until it reaches expected or nothing has changed for `timeout` seconds."""
    value = read()
    quiet_since = time.time()
    while value < expected and time.time() - quiet_since < timeout:
        time.sleep(0.1)
        now = read()
        if now != value:
            value, quiet_since = now, time.time()
    return value


class Sink:
    """smtp-sink with running counters (-c): 'sess=N quit=N mesg=N'."""

    def __init__(self, workdir, port=None):
        self.port = port or free_port()
        self.log = open(os.path.join(workdir, f"sink-{self.port}.log"), "w+b")
        self.proc = subprocess.Popen([SINK, "-u", "nobody", "-c", "-m", "1024", f"127.0.0.1:{self.port}", "1024"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.probes = 0
        wait_port(self.port)
        # The readiness probe is a session too; do not count it as Haineko's.
        deadline = time.time() + 2
        while self._raw()[0] < 1 and time.time() < deadline:
            time.sleep(0.02)
        self.probes = self._raw()[0]

    def counters(self):
        sess, mesg = self._raw()
        return sess - self.probes, mesg

    def messages(self):
        return self._raw()[1]

    def _raw(self):
        # -c rewrites one counter line with CRs; only the file's tail holds the latest.
        self.log.flush()
        size = self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, size - 256))
        text = self.log.read().decode(errors="replace")
        found = re.findall(r"sess=(\d+) quit=(\d+) mesg=(\d+)", text)
        if not found:
            return 0, 0
        sess, _, mesg = found[-1]
        return int(sess), int(mesg)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.log.close()


class Haineko:
    """hainekoctl run on a fresh ROOT: the relay (mailertable default) points at a sink's port."""

    def __init__(self, binary, workdir, sink_port, mailer="ESMTP", sessions=8, extra_cf="", files=None):
        self.root = tempfile.mkdtemp(dir=workdir)
        for path, text in (files or {}).items():  # etc/inbound, plugins/…: relative to the root
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        etc = os.path.join(self.root, "etc")
        os.makedirs(etc, exist_ok=True)
        self.outbox = os.path.join(self.root, "outbox")
        os.makedirs(self.outbox)
        with open(os.path.join(etc, "haineko.cf"), "w") as f:
            f.write(f"smtpd:\n  hostname: bench.haineko.test\n  max_rcpts_per_message: 8\n"
                    f"  max_message_size: 0\n  max_sessions_per_host: {sessions}\n  max_workers: 4\n{extra_cf}")
        with open(os.path.join(etc, "mailertable"), "w") as f:
            if mailer == "File":
                f.write("default:\n  mailer: File\n  path: outbox\n")
            elif mailer == "Discard":
                f.write("default:\n  mailer: Discard\n")
            else:
                f.write(f"default:\n  mailer: ESMTP\n  host: 127.0.0.1\n  port: {sink_port}\n  timeout: 30\n")
        with open(os.path.join(etc, "recipients"), "w") as f:
            f.write("open-relay: 1\n")
        self.port = free_port()
        self.errlog = open(os.path.join(self.root, "haineko.log"), "wb")
        env = dict(os.environ, HAINEKO_ROOT=self.root)
        self.proc = subprocess.Popen([binary, "run", "-o", "127.0.0.1", "-p", str(self.port)], env=env,
                                     stdout=self.errlog, stderr=subprocess.STDOUT)
        wait_port(self.port)
        self.peak_rss_kb = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def _sample(self, every=0.5):
        while self._sampling:
            self.rss_kb()
            time.sleep(every)

    def rss_kb(self):
        """The current RSS; also keeps the peak (VmHWM) up to date."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self):
        self._sampling = False
        self.rss_kb()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.errlog.close()
        return code


def stop_both(name, haineko, sink):
    """Stops Haineko, then counts the SMTP sessions it ended at the sink; returns that count."""
    code = haineko.stop()
    time.sleep(0.3)
    sessions = sink.counters()[0]
    sink.stop()
    if code != 0:
        print(f"warning: {name}: haineko exited {code}", file=sys.stderr)
    return sessions


def parse_wrk(text):
    def seconds(value, unit):
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
    out = {"requests": 0, "non2xx": 0, "socket_errors": 0}
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = sum(int(x) for x in m.groups())
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
        if m:
            out[f"p{pct}"] = seconds(*m.groups())
    m = re.search(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)", text)
    if m:
        out["max"] = seconds(*m.groups())
    return out


def run_wrk(url, body_file, connections, duration, limit=None):
    """wrk POSTing body_file for `duration` seconds, or with limit until about that many answers."""
    threads = min(2, connections)
    env = dict(os.environ, HAINEKO_BENCH_BODY=body_file)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
               "--timeout", "10s", "-s", os.path.join(HERE, "post_json.lua"), url]
    if not limit:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        return parse_wrk(result.stdout)
    with tempfile.TemporaryDirectory() as done_dir:
        env.update(HAINEKO_BENCH_LIMIT=str(-(-limit // threads)), HAINEKO_BENCH_DONE_DIR=done_dir)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and len(os.listdir(done_dir)) < threads:
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        return parse_wrk(out)


COLUMNS = ("msgs_per_s", "relayed", "p50_ms", "p99_ms", "max_ms", "errors", "rss_mb", "cpu_s_per_1k", "smtp_conns")


def median_row(rows):
    out = dict(rows[0])
    for key in COLUMNS:
        out[key] = statistics.median(r[key] for r in rows)
    return out


def print_table(rows, base_rate):
    header = f"{'scenario':28} {'conns':>5} {'msg/s':>9} {'x base':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} " \
             f"{'errors':>6} {'RSS MB':>7} {'CPU s/1k':>8} {'SMTP conns':>10}"
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["msgs_per_s"] / base_rate if base_rate else 0
        print(f"{r['name']:28} {r['conns']:>5} {r['msgs_per_s']:>9.0f} {ratio:>7.2f} {r['p50_ms']:>7.2f} "
              f"{r['p99_ms']:>7.2f} {r['max_ms']:>8.1f} {r['errors']:>6.0f} {r['rss_mb']:>7.1f} "
              f"{r['cpu_s_per_1k']:>8.3f} {r['smtp_conns']:>10.0f}")
