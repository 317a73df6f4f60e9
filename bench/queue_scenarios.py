"""The queued path: POST /v1/messages -> queue -> ESMTP -> smtp-sink, against Postfix, and a deep queue."""
import json
import os
import re
import sys
import subprocess
import threading
import time
import urllib.request

from harness import SOURCE, Haineko, Sink, free_port, median_row, run_wrk, stop_both, wait_for_count
from postfix import Postfix

FROM = "bench@example.org"
TO = "user0@example.net"


def v1_message(body_size=1024):
    line = "The quick brown fox jumps over the lazy dog. 0123456789\n"
    return json.dumps({"from": f"Bench <{FROM}>", "to": [TO], "subject": "Benchmark message",
                       "text": (line * (body_size // len(line) + 1))[:body_size]}).encode()


def postfix_anchor(args, workdir):
    """smtp-source -> Postfix (its own instance, durable queue) -> smtp-sink; timed until the sink has all."""
    sink = Sink(workdir)
    postfix = Postfix(sink.port)
    count = args.postfix_messages
    try:
        postfix.start()
        start = time.time()
        subprocess.run([SOURCE, "-s", "16", "-m", str(count), "-l", "1024", "-f", FROM, "-t", TO,
                        f"127.0.0.1:{postfix.port}"], check=True, capture_output=True)
        accepted_in = time.time() - start
        relayed = wait_for_count(sink.messages, count, timeout=30)
        elapsed = time.time() - start
    finally:
        postfix.stop()
        sink.stop()
    return {"name": "postfix smtp-source -s 16", "conns": 16, "msgs_per_s": relayed / elapsed, "relayed": relayed,
            "accepted_per_s": count / accepted_in, "p50_ms": 0, "p99_ms": 0, "max_ms": 0,
            "errors": count - relayed, "rss_mb": 0, "cpu_s_per_1k": 0, "smtp_conns": 0}


def v1_scenario(args, workdir, connections=64, pg_url=None):
    """wrk POSTs /v1/messages for args.duration seconds; timed until every 202 is at the sink.
    pg_url: the queue on that PostgreSQL instead of the SQLite file."""
    sink = Sink(workdir)
    extra = f"queue:\n  store: '{pg_url}'\n" if pg_url else ""
    h = Haineko(args.binary, workdir, sink.port, sessions=args.sessions, extra_cf=extra)
    body_file = os.path.join(workdir, "v1.json")
    with open(body_file, "wb") as f:
        f.write(v1_message())
    try:
        cpu0 = h.cpu_seconds()
        start = time.time()
        w = run_wrk(h.url("/v1/messages"), body_file, connections, args.duration)
        accepted_in = time.time() - start
        accepted = w["requests"] - w["non2xx"]
        relayed = wait_for_count(sink.messages, accepted, timeout=30)
        elapsed = time.time() - start
        cpu = h.cpu_seconds() - cpu0
    finally:
        sessions = stop_both("v1", h, sink)
    trips = round_trips(h)
    if pg_url:
        print(f"PostgreSQL: {trips} round trips for {relayed} messages ({trips / max(relayed, 1):.1f} per message), "
              f"Haineko CPU {cpu / max(relayed, 1) * 1e6:.0f} us per message", flush=True)
    return {"name": f"v1-1rcpt-1KB-c{connections}" + ("-pg" if pg_url else ""), "conns": connections,
            "msgs_per_s": relayed / elapsed,
            "relayed": relayed, "accepted_per_s": accepted / accepted_in,
            "p50_ms": w.get("p50", 0) * 1000, "p99_ms": w.get("p99", 0) * 1000, "max_ms": w.get("max", 0) * 1000,
            "errors": w["non2xx"] + w["socket_errors"] + max(0, accepted - relayed),
            "rss_mb": h.peak_rss_kb / 1024, "cpu_s_per_1k": cpu / max(relayed, 1) * 1000, "smtp_conns": sessions}


def round_trips(h):
    """The store's round trips to PostgreSQL, from the line Haineko logs at exit (0 for SQLite)."""
    with open(os.path.join(h.root, "haineko.log"), errors="replace") as f:
        m = re.search(r"(\d+) round trips to the database", f.read())
    return int(m.group(1)) if m else 0


def table(args, workdir):
    rows = [median_row([postfix_anchor(args, workdir) for _ in range(args.runs)])]
    rows.append(median_row([v1_scenario(args, workdir) for _ in range(args.runs)]))
    if args.pg:
        # The same load with the queue on a local PostgreSQL 15 (fsync on), started for the run.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
        import pg_fixture
        state = os.path.join(workdir, "pg")
        pg_fixture.start(state)
        try:
            with open(os.path.join(state, "url")) as f:
                url = f.read().strip()
            rows.append(median_row([v1_scenario(args, workdir, pg_url=url) for _ in range(args.runs)]))
        finally:
            pg_fixture.stop(state)
    for r in rows:
        r["accepted_per_s"] = r.get("accepted_per_s", 0)
    return rows


def print_accepted(rows):
    print("accepted per second (before delivery): " +
          ", ".join(f"{r['name']} {r['accepted_per_s']:.0f}" for r in rows))


def get_json(url, timeout=60):
    start = time.time()
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body = json.load(resp)
    return body, time.time() - start


def post_json(url, timeout=60):
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def deep_queue(args, workdir):
    """Queue args.deep messages while the sink is down, read the queue, then bring the sink back and drain."""
    count = args.deep
    sink_port = free_port()  # nothing listens there yet: every attempt is refused and deferred
    h = Haineko(args.binary, workdir, sink_port, sessions=args.sessions)
    body_file = os.path.join(workdir, "v1.json")
    with open(body_file, "wb") as f:
        f.write(v1_message())
    sink = None
    progress = {"stop": False}

    def report():
        began = time.time()
        while not progress["stop"]:
            time.sleep(10)
            print(f"  t={time.time() - began:5.0f}s rss={h.rss_kb() / 1024:6.1f} MB "
                  f"peak={h.peak_rss_kb / 1024:6.1f} MB", flush=True)

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        start = time.time()
        w = run_wrk(h.url("/v1/messages"), body_file, 64, 3600, limit=count)
        enqueue_s = time.time() - start
        accepted = w["requests"] - w["non2xx"]
        print(f"queued {accepted} in {enqueue_s:.0f} s ({accepted / enqueue_s:.0f}/s), 202 p99 "
              f"{w.get('p99', 0) * 1000:.1f} ms, errors {w['non2xx'] + w['socket_errors']}, "
              f"peak RSS {h.peak_rss_kb / 1024:.1f} MB", flush=True)
        reads = [get_json(h.url("/v1/queue")) for _ in range(3)]
        queue, _ = reads[-1]
        print(f"GET /v1/queue: {', '.join(f'{t * 1000:.0f} ms' for _, t in reads)}; pending {queue['pending']}, "
              f"by_status {queue['by_status']}", flush=True)
        # wrk misses the answers still in flight when it is stopped; the queue has them all.
        accepted = max(accepted, queue["pending"])
        sink = Sink(workdir, port=sink_port)
        drain_start = time.time()
        flushed = post_json(h.url("/v1/queue/flush"))
        reads_while_draining = []

        def read_while_draining():
            while sink.messages() < accepted and time.time() - drain_start < 3600:
                reads_while_draining.append(get_json(h.url("/v1/queue"))[1])
                time.sleep(5)

        reader = threading.Thread(target=read_while_draining, daemon=True)
        reader.start()
        relayed = wait_for_count(sink.messages, accepted, timeout=60)
        drain_s = time.time() - drain_start
        reader.join(10)
        slowest = max(reads_while_draining, default=0)
        print(f"flushed {flushed.get('flushed')}; {relayed} at the sink in {drain_s:.0f} s "
              f"({relayed / drain_s:.0f}/s); GET /v1/queue while draining: {len(reads_while_draining)} reads, "
              f"slowest {slowest * 1000:.0f} ms; peak RSS {h.peak_rss_kb / 1024:.1f} MB; "
              f"missing {accepted - relayed}", flush=True)
        return 0 if relayed >= accepted else 1
    finally:
        progress["stop"] = True
        h.stop()
        if sink:
            sink.stop()
