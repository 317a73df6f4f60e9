#!/usr/bin/python3
"""A throw-away PostgreSQL 15 for the tests that need one (ctest fixture "pg").

    pg_fixture.py start DIR   initdb in DIR/data, start on 127.0.0.1 and a free port,
                              create a role and a database, write the URL to DIR/url
    pg_fixture.py stop DIR    stop it (fast) and remove DIR

The integration tests import it: for_test_class(cls) (or start(DIR) and stop(DIR)), and
stop_server(DIR) and start_server(DIR) for a database that goes away and comes back on the
same data and port.

PostgreSQL refuses to run as root: as root, the cluster belongs to and runs as "nobody"
(DIR is made theirs). The binaries come from Debian's postgresql-15; a missing one is an
error (the tests that need it fail, never skip). fsync stays on: the store's durability is
tested against it.
"""

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time

BIN = "/usr/lib/postgresql/15/bin"
USER, PASSWORD, DATABASE = "haineko", "haineko-test", "haineko"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_owner(args, **kw):
    """Runs args as the cluster's owner: nobody when we are root, else ourselves."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "nobody", "--"] + args
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def need(path):
    if not os.access(path, os.X_OK):
        raise SystemExit("pg_fixture: %s is missing (install postgresql-15)" % path)


def start(state):
    need(BIN + "/initdb")
    need(BIN + "/pg_ctl")
    if os.path.exists(state):
        stop(state)
    os.makedirs(state)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(state, nobody.pw_uid, nobody.pw_gid)
        # Every directory above must be traversable by nobody.
        path = os.path.dirname(os.path.abspath(state))
        while path != "/":
            mode = os.stat(path).st_mode
            if not mode & 0o001:
                os.chmod(path, mode | 0o001)
            path = os.path.dirname(path)
    data = os.path.join(state, "data")
    pwfile = os.path.join(state, "pw")
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, pwd.getpwnam("nobody").pw_uid, -1)
    init = as_owner([BIN + "/initdb", "-D", data, "-U", USER, "--pwfile", pwfile, "-A", "scram-sha-256",
                     "-E", "UTF8", "--locale", "C"])
    if init.returncode != 0:
        raise SystemExit("pg_fixture: initdb failed:\n" + init.stdout + init.stderr)
    for attempt in range(5):
        port = free_port()
        with open(os.path.join(state, "port"), "w") as f:
            f.write("%d\n" % port)
        run = pg_ctl_start(state)
        if run.returncode == 0:
            break
    else:
        raise SystemExit("pg_fixture: the server did not start:\n" + run.stdout + run.stderr + log_tail(state))
    env = dict(os.environ, PGPASSWORD=PASSWORD)
    made = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", "postgres", "-v",
                           "ON_ERROR_STOP=1", "-c", "CREATE DATABASE %s" % DATABASE], capture_output=True, text=True,
                          env=env, timeout=60)
    if made.returncode != 0:
        raise SystemExit("pg_fixture: CREATE DATABASE failed: " + made.stderr)
    url = "postgresql://%s:%s@127.0.0.1:%d/%s" % (USER, PASSWORD, port, DATABASE)
    with open(os.path.join(state, "url"), "w") as f:
        f.write(url + "\n")
    print(url)


def log_tail(state):
    path = os.path.join(state, "log")
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()[-3000:]


def pg_ctl_start(state):
    with open(os.path.join(state, "port")) as f:
        port = int(f.read())
    options = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" % (port, state)
    return as_owner([BIN + "/pg_ctl", "-D", os.path.join(state, "data"), "-o", options, "-l",
                     os.path.join(state, "log"), "-w", "-t", "60", "start"])


def stop_server(state):
    """Stops the server (fast: connections are cut), keeping its data and port."""
    run = as_owner([BIN + "/pg_ctl", "-D", os.path.join(state, "data"), "-m", "fast", "-w", "-t", "60", "stop"])
    if run.returncode != 0:
        raise RuntimeError("pg_fixture: stop failed: " + run.stdout + run.stderr)


def start_server(state):
    """Starts it again on the same data and port."""
    run = pg_ctl_start(state)
    if run.returncode != 0:
        raise RuntimeError("pg_fixture: start failed: " + run.stdout + run.stderr + log_tail(state))


def for_test_class(cls):
    """Starts one for a unittest class, stopped after its last test; returns (DIR, URL)."""
    import tempfile
    state = tempfile.mkdtemp(prefix="haineko-pg-")
    os.rmdir(state)  # start() makes it, owned as it needs
    start(state)
    cls.addClassCleanup(stop, state)
    with open(os.path.join(state, "url")) as f:
        return state, f.read().strip()


def query(url, sql):
    """The rows of one statement, each a tuple of text, read with psql."""
    run = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-d", url, "-c", sql], capture_output=True, text=True,
                         timeout=60)
    if run.returncode != 0:
        raise RuntimeError("pg_fixture: psql failed: " + run.stderr)
    return [tuple(line.split("\t")) for line in run.stdout.splitlines() if line]


def stop(state):
    data = os.path.join(state, "data")
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        as_owner([BIN + "/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop"])
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        raise SystemExit("usage: pg_fixture.py start|stop DIR")
    (start if sys.argv[1] == "start" else stop)(sys.argv[2])
