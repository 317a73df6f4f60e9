#!/usr/bin/python3
"""Where the time of /v1 on a PostgreSQL queue goes (bench/README.md, "The queue on PostgreSQL").

One run of the queued scenario (wrk POSTs /v1/messages at 64 connections; the queue
delivers by ESMTP to smtp-sink) against a PostgreSQL 15 of its own (tests/tools/pg_fixture.py,
fsync on) with pg_stat_statements loaded. It prints:
- the sink's count each second, the rates, and the 202's latency;
- the CPU of Haineko and of every PostgreSQL process (backends, WAL writer,
  checkpointer), per message, read from /proc before and after;
- the statements by total time, with their calls, time and WAL per message.

    python3 bench/pg_profile.py --binary build-release/hainekoctl [--duration 15]
        [--runs N] [--pg 'setting = value' ...] [--perf perf.data]

--runs N loads the same database N times, each with a fresh Haineko (as bench.py --pg).

--perf records every CPU's stacks (perf record -e cpu-clock -a -g) for the load's duration.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "tools"))
import pg_fixture  # noqa: E402
from harness import Haineko, Sink, run_wrk, stop_both, wait_for_count  # noqa: E402
from queue_scenarios import v1_message  # noqa: E402


def postgres_cpu_seconds(state):
    """User and system time of the postmaster and its children (the live ones)."""
    with open(os.path.join(state, "data", "postmaster.pid")) as f:
        postmaster = int(f.readline())
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == postmaster or int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def start_postgres(workdir, settings):
    state = os.path.join(workdir, "pg")
    pg_fixture.start(state)
    with open(os.path.join(state, "data", "postgresql.conf"), "a") as f:
        f.write("shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n")
        for line in settings:
            f.write(line + "\n")
    pg_fixture.stop_server(state)
    pg_fixture.start_server(state)
    with open(os.path.join(state, "url")) as f:
        url = f.read().strip()
    pg_fixture.query(url, "CREATE EXTENSION pg_stat_statements")
    return state, url


def print_statements(url, messages, top):
    total = pg_fixture.query(url, f"SELECT round(sum(total_exec_time)::numeric * 1000 / {messages}, 1), "
                                  f"sum(wal_bytes) / {messages} FROM pg_stat_statements")[0]
    print(f"statements: {total[0]} us and {float(total[1]):.0f} bytes of WAL per message")
    rows = pg_fixture.query(url, f"SELECT calls, round((total_exec_time * 1000 / {messages})::numeric, 1), "
                                 f"round(wal_bytes / {messages}), left(regexp_replace(query, '\\s+', ' ', 'g'), 140) "
                                 f"FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT {top}")
    print("calls\tus/msg\tWAL/msg\tstatement")
    for calls, us, wal, query in rows:
        print(f"{calls}\t{us}\t{wal}\t{query}")


def print_tables(url):
    rows = pg_fixture.query(url, "SELECT relname, n_live_tup, n_dead_tup, n_tup_hot_upd, autovacuum_count, "
                                 "pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables "
                                 "WHERE n_live_tup > 0 ORDER BY relname")
    print("table\tlive\tdead\tHOT updates\tautovacuums\tsize")
    for row in rows:
        print("\t".join(row))


def profile_one_run(args, workdir, state, url):
    sink = Sink(workdir)
    h = Haineko(args.binary, workdir, sink.port, extra_cf=f"queue:\n  store: '{url}'\n" + args.cf)
    body = os.path.join(workdir, "v1.json")
    with open(body, "wb") as f:
        f.write(v1_message())
    pg_fixture.query(url, "SELECT pg_stat_statements_reset()")
    haineko0, postgres0 = h.cpu_seconds(), postgres_cpu_seconds(state)
    start = time.time()
    counts, loading = [], [True]

    def count_each_second():
        while loading[0]:
            counts.append((time.time() - start, sink.messages()))
            time.sleep(1)

    threading.Thread(target=count_each_second, daemon=True).start()
    perf = None
    if args.perf:
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2000", "-a", "-g", "-o", args.perf,
                                 "--", "sleep", str(args.duration)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w = run_wrk(h.url("/v1/messages"), body, 64, args.duration)
    if perf:
        perf.wait()
    accepted_in = time.time() - start
    accepted = w["requests"] - w["non2xx"]
    relayed = wait_for_count(sink.messages, accepted, timeout=30)
    elapsed = time.time() - start
    loading[0] = False
    n = max(relayed, 1)
    haineko_cpu, postgres_cpu = h.cpu_seconds() - haineko0, postgres_cpu_seconds(state) - postgres0
    print("at the sink: " + " ".join(f"{t:.0f}s {m}" for t, m in counts))
    print(f"accepted {accepted} ({accepted / accepted_in:.0f}/s), {relayed} at the sink in {elapsed:.1f} s "
          f"({relayed / elapsed:.0f}/s end to end); 202 p50 {w.get('p50', 0) * 1000:.1f} ms, "
          f"p99 {w.get('p99', 0) * 1000:.1f} ms")
    print(f"CPU per message: Haineko {haineko_cpu / n * 1e6:.0f} us, PostgreSQL {postgres_cpu / n * 1e6:.0f} us")
    print_statements(url, n, args.top)
    print_tables(url)
    stop_both("v1", h, sink)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--pg", action="append", default=[], help="a postgresql.conf line (repeatable)")
    p.add_argument("--cf", default="", help="more haineko.cf lines (the queue: block is written already)")
    p.add_argument("--top", type=int, default=15, help="statements listed")
    p.add_argument("--perf", help="perf record's output file")
    p.add_argument("--runs", type=int, default=1, help="loads one after another on the same database")
    args = p.parse_args()
    workdir = tempfile.mkdtemp(prefix="haineko-pgprof-")
    os.chmod(workdir, 0o755)
    state, url = start_postgres(workdir, args.pg)
    try:
        for run in range(args.runs):
            if args.runs > 1:
                print(f"run {run + 1} of {args.runs}")
            profile_one_run(args, workdir, state, url)
    finally:
        pg_fixture.stop(state)


if __name__ == "__main__":
    sys.exit(main())
