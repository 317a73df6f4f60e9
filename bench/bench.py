#!/usr/bin/python3
"""Haineko benchmarks; see bench/README.md.

Default: the /submit table (against smtp-source), the queued table (/v1 against a Postfix
instance) and the SMTP intake table (against Haraka and Postfix's smtpd), each scenario with
a fresh sink and a fresh Haineko on free ports, every message counted. --deep N: the
deep-queue run. --soak S: a steady /submit load.
"""
import argparse
import os
import shutil
import sys
import tempfile

import harness
import queue_scenarios
import plugin_scenarios
import smtp_scenarios
import submit_scenarios


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--sessions", type=int, default=8, help="max_sessions_per_host")
    p.add_argument("--baseline-messages", type=int, default=100000)
    p.add_argument("--postfix-messages", type=int, default=20000)
    p.add_argument("--only", help="run only scenarios whose name contains this")
    p.add_argument("--submit", action="store_true", help="only the /submit table")
    p.add_argument("--queue", action="store_true", help="only the queued table")
    p.add_argument("--pg", action="store_true", help="the queued table also with the queue on PostgreSQL")
    p.add_argument("--smtp", action="store_true", help="only the SMTP intake table")
    p.add_argument("--plugins", action="store_true", help="only the plugins table (inbound listener, Haraka)")
    p.add_argument("--smtp-messages", type=int, default=100000, help="smtp-source -m for Haineko and Haraka")
    p.add_argument("--postfix-smtp-messages", type=int, default=20000, help="smtp-source -m for Postfix")
    p.add_argument("--deep", type=int, default=0, help="queue this many messages with the sink down, then drain")
    p.add_argument("--soak", type=int, default=0, help="seconds of steady /submit load instead of the tables")
    p.add_argument("--rate", type=int, default=500, help="soak: submissions per second")
    args = p.parse_args()
    for tool in (harness.SINK, harness.SOURCE, shutil.which("wrk"), shutil.which("postfix")):
        if not tool or not os.path.exists(tool):
            sys.exit(f"missing {tool}: run scripts/deps.sh bench")
    workdir = tempfile.mkdtemp(prefix="haineko-bench-")
    os.chmod(workdir, 0o755)
    try:
        if args.soak:
            return submit_scenarios.soak(args, workdir)
        if args.deep:
            return queue_scenarios.deep_queue(args, workdir)
        only_one = args.submit or args.queue or args.smtp or args.plugins
        if args.submit or not only_one:
            rows = submit_scenarios.table(args, workdir)
            print(f"\n/submit: medians of {args.runs} run(s), {args.duration}s each, "
                  f"max_sessions_per_host={args.sessions}, {os.cpu_count()} cores")
            harness.print_table(rows, rows[0]["msgs_per_s"])
        if args.queue or not only_one:
            rows = queue_scenarios.table(args, workdir)
            print(f"\nqueued (/v1 against Postfix, end to end at the sink): medians of {args.runs} run(s), "
                  f"Haineko {args.duration}s of load, Postfix {args.postfix_messages} messages")
            harness.print_table(rows, rows[0]["msgs_per_s"])
            queue_scenarios.print_accepted(rows)
        if args.smtp or not only_one:
            rows = smtp_scenarios.table(args, workdir)
            print(f"\nSMTP intake (smtp-source -d -s 64 -l 1024, a connection per message), {os.cpu_count()} cores")
            smtp_scenarios.print_table(rows)
            opened, rss_kb = smtp_scenarios.thousand_sessions(args, workdir)
            print(f"Haineko with {opened} SMTP sessions open: peak RSS {rss_kb / 1024:.1f} MB")
        if args.plugins or not only_one:
            rows = plugin_scenarios.table(args, workdir)
            print(f"\nplugins (smtp-source -d -s 64 -l 1024 into an inbound listener), {os.cpu_count()} cores")
            smtp_scenarios.print_table(rows)
            print(plugin_scenarios.hook_call(args))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
