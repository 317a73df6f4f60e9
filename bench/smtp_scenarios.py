"""SMTP intake (issue 10): `smtp-source -d -s 64 -m N -l 1024` (a new connection for each
message) into Haineko's relay listener with its durable SQLite queue and a Discard route,
against Postfix's smtpd (its own instance, durable queue) and Haraka 3.3.4 (queue/discard)
in the same run. Counted as messages accepted per second: smtp-source's wall time, with
what each server says it accepted checked against N. Then the peak RSS of Haineko with
1,000 SMTP sessions open at once.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from harness import SOURCE, Haineko, Sink, free_port, wait_for_count, wait_port
from postfix import Postfix

FROM = "bench@example.org"
TO = "user0@example.net"
HARAKA_VERSION = "3.3.4"
# Newer releases of these are missing from the registry this machine reaches.
HARAKA_OVERRIDES = {"encoding-japanese": "2.4.0", "libmime": "5.4.9", "libqp": "2.1.2"}
HARAKA_CACHE = "/var/tmp/haineko-bench-haraka"


def smtp_source(port, messages, sessions=64):
    start = time.time()
    done = subprocess.run([SOURCE, "-d", "-s", str(sessions), "-m", str(messages), "-l", "1024", "-f", FROM,
                           "-t", TO, f"127.0.0.1:{port}"], capture_output=True, text=True)
    elapsed = time.time() - start
    if done.returncode != 0:
        raise RuntimeError(f"smtp-source failed: {done.stderr.strip()[:500]}")
    return elapsed


def row(name, messages, elapsed, accepted, rss_kb=0, cpu_s=0.0):
    return {"name": name, "messages": messages, "accepted": accepted, "seconds": elapsed,
            "accepted_per_s": accepted / elapsed if elapsed else 0, "rss_mb": rss_kb / 1024,
            "cpu_s_per_1k": cpu_s * 1000 / accepted if accepted else 0}


def queue_total(h):
    with urllib.request.urlopen(h.url("/v1/queue"), timeout=30) as r:
        counts = json.load(r)
    return counts


def haineko_intake(args, workdir):
    """Haineko: relay listener, durable queue, Discard route; greet_pause 0 (see README)."""
    smtp_port = free_port()
    extra = (f"smtp:\n  listen:\n    - address: '127.0.0.1:{smtp_port}'\n  greet_pause: 0\n"
             f"queue:\n  max_concurrency: 64\n")
    h = Haineko(args.binary, workdir, 0, mailer="Discard", extra_cf=extra)
    wait_port(smtp_port)
    try:
        cpu0 = h.cpu_seconds()
        elapsed = smtp_source(smtp_port, args.smtp_messages)
        cpu = h.cpu_seconds() - cpu0
        log = os.path.join(h.root, "haineko.log")
        accepted = wait_for_count(lambda: count_lines(log, "api=smtp"), args.smtp_messages, timeout=30)
    finally:
        h.stop()
    return row("haineko relay listener (durable queue)", args.smtp_messages, elapsed, accepted, h.peak_rss_kb, cpu)


def count_lines(path, needle):
    with open(path, "rb") as f:
        return sum(1 for line in f if needle.encode() in line)


def postfix_intake(args, workdir):
    """Postfix's smtpd into its durable queue (it relays on to a sink, as usual)."""
    sink = Sink(workdir)
    postfix = Postfix(sink.port)
    try:
        postfix.start()
        elapsed = smtp_source(postfix.port, args.postfix_smtp_messages)
        accepted = wait_for_count(sink.messages, args.postfix_smtp_messages, timeout=60)
    finally:
        postfix.stop()
        sink.stop()
    return row("postfix smtpd (durable queue)", args.postfix_smtp_messages, elapsed, accepted)


def haraka_install():
    """Haraka from npm into a cache directory (once); returns its bin/haraka."""
    binary = os.path.join(HARAKA_CACHE, "node_modules", ".bin", "haraka")
    if os.path.exists(binary):
        return binary
    os.makedirs(HARAKA_CACHE, exist_ok=True)
    with open(os.path.join(HARAKA_CACHE, "package.json"), "w") as f:
        json.dump({"name": "haineko-bench-haraka", "private": True, "dependencies": {"Haraka": HARAKA_VERSION},
                   "overrides": HARAKA_OVERRIDES}, f)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--omit=optional"], cwd=HARAKA_CACHE, check=True,
                   capture_output=True)
    return binary


def haraka_intake(args, workdir, plugins=("rcpt_to.in_host_list",), own_plugins=None,
                  name=f"haraka {HARAKA_VERSION} (queue/discard, nodes=2)"):
    """Haraka 3.3.4: nodes=2, the plugins given (own_plugins: {NAME: JavaScript}), then
    queue/discard (nothing is kept)."""
    binary = haraka_install()
    inst = tempfile.mkdtemp(prefix="haraka-", dir=workdir)
    subprocess.run([binary, "-i", inst], check=True, capture_output=True)
    port = free_port()
    config = os.path.join(inst, "config")
    with open(os.path.join(config, "smtp.ini"), "w") as f:
        f.write(f"listen=127.0.0.1:{port}\nnodes=2\n")
    with open(os.path.join(config, "plugins"), "w") as f:
        f.write("".join(p + "\n" for p in plugins) + "queue/discard\n")
    with open(os.path.join(config, "host_list"), "w") as f:
        f.write("example.net\n")
    with open(os.path.join(config, "log.ini"), "w") as f:
        f.write("[main]\nlevel=warn\n")
    os.makedirs(os.path.join(inst, "plugins"), exist_ok=True)
    for plugin, code in (own_plugins or {}).items():
        with open(os.path.join(inst, "plugins", plugin + ".js"), "w") as f:
            f.write(code)
    env = dict(os.environ, YES_REALLY_DO_DISCARD="1")
    log = open(os.path.join(inst, "haraka.log"), "wb")
    proc = subprocess.Popen([binary, "-c", inst], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_port(port, timeout=30)
        time.sleep(1)  # both worker processes listening
        elapsed = smtp_source(port, args.smtp_messages)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()
    return row(name, args.smtp_messages, elapsed, args.smtp_messages)


def thousand_sessions(args, workdir, sessions=1000):
    """Peak RSS with this many SMTP sessions open, each after EHLO."""
    smtp_port = free_port()
    extra = f"smtp:\n  listen:\n    - address: '127.0.0.1:{smtp_port}'\n  greet_pause: 0\n"
    h = Haineko(args.binary, workdir, 0, mailer="Discard", extra_cf=extra)
    wait_port(smtp_port)
    socks = []
    try:
        for _ in range(sessions):
            s = socket.create_connection(("127.0.0.1", smtp_port), timeout=30)
            s.recv(512)
            s.sendall(b"EHLO bench.example.org\r\n")
            socks.append(s)
        for s in socks:
            s.recv(4096)
        time.sleep(1)
        h.rss_kb()
        opened = len(socks)
    finally:
        for s in socks:
            s.close()
        h.stop()
    return opened, h.peak_rss_kb


def table(args, workdir):
    rows = [haineko_intake(args, workdir)]
    try:
        rows.append(haraka_intake(args, workdir))
    except (OSError, subprocess.CalledProcessError, RuntimeError) as e:
        print(f"haraka anchor failed: {e}")
    rows.append(postfix_intake(args, workdir))
    return rows


def print_table(rows):
    base = rows[0]["accepted_per_s"]
    print(f"{'scenario':44} {'messages':>9} {'accepted':>9} {'msg/s':>9} {'Haineko is':>11} {'RSS MB':>7} "
          f"{'CPU s/1k':>9}")
    for r in rows:
        ratio = base / r["accepted_per_s"] if r["accepted_per_s"] else 0
        print(f"{r['name']:44} {r['messages']:9d} {r['accepted']:9d} {r['accepted_per_s']:9.0f} "
              f"{ratio:10.1f}x {r['rss_mb']:7.1f} {r['cpu_s_per_1k']:9.3f}")
