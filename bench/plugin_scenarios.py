"""Plugins (issue 21): `smtp-source -d -s 64 -m N -l 1024` into an inbound listener (etc/inbound
example.net, Discard route, durable SQLite queue) with no plugins, then with four of the same
weight (one hook each at connect, mail, rcpt and data_post: a note, a sender check, the bundled
rcpt_to.extension and headers.add), against Haraka 3.3.4 with its rcpt_to.in_host_list and a
plugin of its own that adds a header (queue/discard, nothing kept), in the same run. Then
`hook_bench`, one hook call into a plugin that returns CONT, timed in-process.
"""
import os
import subprocess

from harness import Haineko, free_port, wait_for_count, wait_port
from smtp_scenarios import HARAKA_VERSION, count_lines, haraka_intake, row, smtp_source

CONNECT_NOTE = """local P = {}
function P.hook_connect(conn) conn.notes.seen = conn.remote.ip end
return P
"""
MAIL_CHECK = """local P = {}
function P.hook_mail(conn, txn, sender)
  if sender.address:find("@blocked.example", 1, true) then return haineko.DENY, "blocked" end
end
return P
"""
# Haraka's own kind of plugin: a header on every message, at data_post.
HARAKA_HEADER = """exports.hook_data_post = function (next, connection) {
    connection.transaction.add_header('X-Bench', connection.transaction.uuid);
    next();
};
"""


def haineko_inbound(args, workdir, plugins):
    smtp_port = free_port()
    extra = (f"smtp:\n  listen:\n    - address: '127.0.0.1:{smtp_port}'\n      mode: 'inbound'\n  greet_pause: 0\n"
             f"queue:\n  max_concurrency: 64\n")
    files = {"etc/inbound": "example.net:\n  mailer: 'Discard'\n"}
    if plugins:
        files.update({"etc/plugins": "connect_note\nmail_check\nrcpt_to.extension\nheaders.add\n",
                      "plugins/connect_note.lua": CONNECT_NOTE, "plugins/mail_check.lua": MAIL_CHECK,
                      "etc/plugins.d/headers.add.yaml": "name: 'X-Bench'\nvalue: '%{queue_id}'\ncheck_from: false\n"})
    h = Haineko(args.binary, workdir, 0, mailer="Discard", extra_cf=extra, files=files)
    wait_port(smtp_port)
    try:
        cpu0 = h.cpu_seconds()
        elapsed = smtp_source(smtp_port, args.smtp_messages)
        cpu = h.cpu_seconds() - cpu0
        log = os.path.join(h.root, "haineko.log")
        accepted = wait_for_count(lambda: count_lines(log, "api=smtp"), args.smtp_messages, timeout=30)
    finally:
        h.stop()
    name = "haineko inbound, 4 plugins" if plugins else "haineko inbound, no plugin"
    return row(name + " (durable queue)", args.smtp_messages, elapsed, accepted, h.peak_rss_kb, cpu)


def haraka_with_plugins(args, workdir):
    return haraka_intake(args, workdir, plugins=("rcpt_to.in_host_list", "bench_header"),
                         own_plugins={"bench_header": HARAKA_HEADER},
                         name=f"haraka {HARAKA_VERSION}, in_host_list + header plugin")


def hook_call(args):
    """hook_bench's line: nanoseconds per hook call (built next to hainekoctl)."""
    binary = os.path.join(os.path.dirname(args.binary), "hook_bench")
    if not os.path.exists(binary):
        return f"hook_bench not built at {binary}"
    done = subprocess.run([binary, "200000"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def table(args, workdir):
    rows = [haineko_inbound(args, workdir, True), haineko_inbound(args, workdir, False)]
    try:
        rows.append(haraka_with_plugins(args, workdir))
    except (OSError, subprocess.CalledProcessError, RuntimeError) as e:
        print(f"haraka anchor failed: {e}")
    return rows
