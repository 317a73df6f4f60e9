#!/usr/bin/python3
"""Haineko benchmark: HTTP /submit -> Haineko -> SMTP -> Postfix smtp-sink.

Every scenario starts a fresh smtp-sink and a fresh Haineko on free ports, drives /submit
with wrk, and counts what arrived at the sink (not only HTTP 200s). The baseline is
Postfix's own smtp-source pushing 1 KB messages straight into the same kind of sink.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"
JAPANESE = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"


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


class Sink:
    """smtp-sink with running counters (-c): 'sess=N quit=N mesg=N'."""

    def __init__(self, workdir):
        self.port = free_port()
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

    def _raw(self):
        self.log.flush()
        self.log.seek(0)
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
    def __init__(self, binary, workdir, sink_port, mailer="ESMTP", sessions=8):
        self.root = tempfile.mkdtemp(dir=workdir)
        etc = os.path.join(self.root, "etc")
        os.makedirs(etc)
        self.outbox = os.path.join(self.root, "outbox")
        os.makedirs(self.outbox)
        with open(os.path.join(etc, "haineko.cf"), "w") as f:
            f.write(f"smtpd:\n  hostname: bench.haineko.test\n  max_rcpts_per_message: 8\n"
                    f"  max_message_size: 0\n  max_sessions_per_host: {sessions}\n  max_workers: 4\n")
        with open(os.path.join(etc, "mailertable"), "w") as f:
            if mailer == "File":
                f.write("default:\n  mailer: File\n  path: outbox\n")
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
        self.rss_samples = []
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self, every=0.5):
        while self._sampling:
            rss = self.rss_kb()
            if rss:
                self.peak_rss_kb = max(self.peak_rss_kb, rss)
            time.sleep(every)

    def rss_kb(self):
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
        code = self.proc.wait(40)
        self.errlog.close()
        return code


def submission(rcpts=1, body_size=1024, japanese=False):
    if japanese:
        body = (JAPANESE + "\n") * max(1, body_size // (len(JAPANESE.encode()) + 1))
        subject = "ベンチマーク 猫"
        sender_name = "はいねこ"
    else:
        line = "The quick brown fox jumps over the lazy dog. 0123456789\n"
        body = (line * (body_size // len(line) + 1))[:body_size]
        subject = "Benchmark message"
        sender_name = "Bench"
    return json.dumps({
        "ehlo": "bench.client.test", "mail": "bench@example.org",
        "rcpt": [f"user{i}@example.net" for i in range(rcpts)],
        "header": {"from": f"{sender_name} <bench@example.org>", "subject": subject, "charset": "UTF-8"},
        "body": body,
    }, ensure_ascii=False).encode()


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


def run_wrk(url, body_file, connections, duration):
    threads = min(2, connections)
    env = dict(os.environ, HAINEKO_BENCH_BODY=body_file)
    result = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
                             "--timeout", "10s", "-s", os.path.join(HERE, "submit.lua"), url],
                            env=env, capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def wait_for_count(read, expected, timeout=10):
    deadline = time.time() + timeout
    value = read()
    while value < expected and time.time() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def scenario(args, workdir, name, connections, rcpts=1, body_size=1024, japanese=False, mailer="ESMTP"):
    sink = Sink(workdir)
    h = Haineko(args.binary, workdir, sink.port, mailer=mailer, sessions=args.sessions)
    body_file = os.path.join(workdir, f"{name}.json")
    with open(body_file, "wb") as f:
        f.write(submission(rcpts, body_size, japanese))
    try:
        cpu0 = h.cpu_seconds()
        start = time.time()
        w = run_wrk(f"http://127.0.0.1:{h.port}/submit", body_file, connections, args.duration)
        elapsed = time.time() - start
        cpu = h.cpu_seconds() - cpu0
        ok = w["requests"] - w["non2xx"]
        expected = ok * rcpts
        if mailer == "File":
            relayed = wait_for_count(lambda: len(os.listdir(h.outbox)), expected)
        else:
            relayed = wait_for_count(lambda: sink.counters()[1], expected)
    finally:
        code = h.stop()
        time.sleep(0.3)
        sessions = sink.counters()[0]
        sink.stop()
    if code != 0:
        print(f"warning: {name}: haineko exited {code}", file=sys.stderr)
    return {
        "name": name, "conns": connections, "msgs_per_s": relayed / elapsed, "relayed": relayed,
        "p50_ms": w.get("p50", 0) * 1000, "p99_ms": w.get("p99", 0) * 1000, "max_ms": w.get("max", 0) * 1000,
        "errors": w["non2xx"] + w["socket_errors"] + max(0, expected - relayed),
        "rss_mb": h.peak_rss_kb / 1024, "cpu_s_per_1k": cpu / max(relayed, 1) * 1000,
        "smtp_conns": sessions if mailer != "File" else 0,
    }


def baseline(args, workdir):
    sink = Sink(workdir)
    try:
        count = args.baseline_messages
        start = time.time()
        subprocess.run([SOURCE, "-d", "-s", "16", "-m", str(count), "-l", "1024", f"127.0.0.1:{sink.port}"],
                       check=True, capture_output=True)
        elapsed = time.time() - start
        relayed = wait_for_count(lambda: sink.counters()[1], count)
    finally:
        sink.stop()
    return {"name": "baseline smtp-source -s 16", "conns": 16, "msgs_per_s": relayed / elapsed, "relayed": relayed,
            "p50_ms": 0, "p99_ms": 0, "max_ms": 0, "errors": count - relayed, "rss_mb": 0, "cpu_s_per_1k": 0,
            "smtp_conns": 0}


SCENARIOS = [
    ("1rcpt-1KB-c16", dict(connections=16)),
    ("1rcpt-1KB-c64", dict(connections=64)),
    ("1rcpt-1KB-c256", dict(connections=256)),
    ("4rcpt-1KB-c64", dict(connections=64, rcpts=4)),
    ("1rcpt-100KB-c64", dict(connections=64, body_size=100 * 1024)),
    ("1rcpt-japanese-c64", dict(connections=64, japanese=True)),
    ("file-mailer-c64", dict(connections=64, mailer="File")),
]


def median_row(rows):
    out = dict(rows[0])
    for key in ("msgs_per_s", "relayed", "p50_ms", "p99_ms", "max_ms", "errors", "rss_mb", "cpu_s_per_1k", "smtp_conns"):
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


def soak(args, workdir):
    """A steady rate for args.soak seconds; RSS sampled every 10 s; every message counted at the sink."""
    sink = Sink(workdir)
    h = Haineko(args.binary, workdir, sink.port, sessions=args.sessions)
    body = submission(1, 1024)
    sent = {"ok": 0, "fail": 0}
    lock = threading.Lock()
    stop_at = time.time() + args.soak
    threads = 8
    interval = threads / args.rate

    def client():
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
        next_at = time.time()
        while time.time() < stop_at:
            try:
                conn.request("POST", "/submit", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                good = resp.status == 200
            except Exception:
                good = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
            with lock:
                sent["ok" if good else "fail"] += 1
            next_at += interval
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    samples = []
    began = time.time()
    while any(w.is_alive() for w in workers):
        samples.append((time.time() - began, h.rss_kb() / 1024))
        print(f"  t={samples[-1][0]:6.0f}s rss={samples[-1][1]:6.1f} MB sent={sent['ok']}", flush=True)
        for _ in range(100):
            if not any(w.is_alive() for w in workers):
                break
            time.sleep(0.1)
    for w in workers:
        w.join()
    arrived = wait_for_count(lambda: sink.counters()[1], sent["ok"], timeout=20)
    h.stop()
    sink.stop()
    first = statistics.mean(s[1] for s in samples[1:4]) if len(samples) > 4 else samples[0][1]
    last = statistics.mean(s[1] for s in samples[-3:])
    print(f"soak: {args.soak}s at {args.rate}/s: {sent['ok']} accepted, {sent['fail']} failed, {arrived} at the sink "
          f"({'all accounted for' if arrived == sent['ok'] else 'MISSING ' + str(sent['ok'] - arrived)}); "
          f"RSS {first:.1f} MB early -> {last:.1f} MB late ({last - first:+.1f} MB)")
    return 0 if arrived == sent["ok"] and sent["fail"] == 0 else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--sessions", type=int, default=8, help="max_sessions_per_host")
    p.add_argument("--baseline-messages", type=int, default=100000)
    p.add_argument("--only", help="run only scenarios whose name contains this")
    p.add_argument("--soak", type=int, default=0, help="seconds of steady load instead of the table")
    p.add_argument("--rate", type=int, default=500, help="soak: submissions per second")
    args = p.parse_args()
    for tool in (SINK, SOURCE, shutil.which("wrk")):
        if not tool or not os.path.exists(tool):
            sys.exit(f"missing {tool}: run scripts/deps.sh")
    workdir = tempfile.mkdtemp(prefix="haineko-bench-")
    os.chmod(workdir, 0o755)
    try:
        if args.soak:
            return soak(args, workdir)
        rows = []
        bases = [baseline(args, workdir) for _ in range(args.runs)]
        base = median_row(bases)
        rows.append(base)
        for name, kw in SCENARIOS:
            if args.only and args.only not in name:
                continue
            runs = [scenario(args, workdir, name, **kw) for _ in range(args.runs)]
            rows.append(median_row(runs))
        print(f"\nHaineko bench: medians of {args.runs} run(s), {args.duration}s each, "
              f"max_sessions_per_host={args.sessions}, {os.cpu_count()} cores")
        print_table(rows, base["msgs_per_s"])
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
