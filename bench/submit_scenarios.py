"""/submit: HTTP -> Haineko -> SMTP -> smtp-sink, against smtp-source straight into a sink."""
import http.client
import json
import os
import statistics
import subprocess
import threading
import time

from harness import SOURCE, Haineko, Sink, median_row, run_wrk, stop_both, wait_for_count

JAPANESE = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"

SCENARIOS = [
    ("1rcpt-1KB-c16", dict(connections=16)),
    ("1rcpt-1KB-c64", dict(connections=64)),
    ("1rcpt-1KB-c256", dict(connections=256)),
    ("4rcpt-1KB-c64", dict(connections=64, rcpts=4)),
    ("1rcpt-100KB-c64", dict(connections=64, body_size=100 * 1024)),
    ("1rcpt-japanese-c64", dict(connections=64, japanese=True)),
    ("file-mailer-c64", dict(connections=64, mailer="File")),
]


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


def scenario(args, workdir, name, connections, rcpts=1, body_size=1024, japanese=False, mailer="ESMTP"):
    sink = Sink(workdir)
    h = Haineko(args.binary, workdir, sink.port, mailer=mailer, sessions=args.sessions)
    body_file = os.path.join(workdir, f"{name}.json")
    with open(body_file, "wb") as f:
        f.write(submission(rcpts, body_size, japanese))
    try:
        cpu0 = h.cpu_seconds()
        start = time.time()
        w = run_wrk(h.url("/submit"), body_file, connections, args.duration)
        elapsed = time.time() - start
        cpu = h.cpu_seconds() - cpu0
        ok = w["requests"] - w["non2xx"]
        expected = ok * rcpts
        if mailer == "File":
            relayed = wait_for_count(lambda: len(os.listdir(h.outbox)), expected)
        else:
            relayed = wait_for_count(sink.messages, expected)
    finally:
        sessions = stop_both(name, h, sink)
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
        relayed = wait_for_count(sink.messages, count)
    finally:
        sink.stop()
    return {"name": "baseline smtp-source -s 16", "conns": 16, "msgs_per_s": relayed / elapsed, "relayed": relayed,
            "p50_ms": 0, "p99_ms": 0, "max_ms": 0, "errors": count - relayed, "rss_mb": 0, "cpu_s_per_1k": 0,
            "smtp_conns": 0}


def table(args, workdir):
    """The baseline row, then one median row per scenario; the baseline's rate is the ratio's base."""
    rows = [median_row([baseline(args, workdir) for _ in range(args.runs)])]
    for name, kw in SCENARIOS:
        if args.only and args.only not in name:
            continue
        rows.append(median_row([scenario(args, workdir, name, **kw) for _ in range(args.runs)]))
    return rows


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
    arrived = wait_for_count(sink.messages, sent["ok"], timeout=20)
    h.stop()
    sink.stop()
    first = statistics.mean(s[1] for s in samples[1:4]) if len(samples) > 4 else samples[0][1]
    last = statistics.mean(s[1] for s in samples[-3:])
    print(f"soak: {args.soak}s at {args.rate}/s: {sent['ok']} accepted, {sent['fail']} failed, {arrived} at the sink "
          f"({'all accounted for' if arrived == sent['ok'] else 'MISSING ' + str(sent['ok'] - arrived)}); "
          f"RSS {first:.1f} MB early -> {last:.1f} MB late ({last - first:+.1f} MB)")
    return 0 if arrived == sent["ok"] and sent["fail"] == 0 else 1
