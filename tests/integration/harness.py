"""Shared code for the integration tests: starts the real `hainekoctl run` on a free
port with a temporary HAINEKO_ROOT, talks HTTP to it and reads what the File mailer
wrote.

Only the standard library of /usr/bin/python3 is used.
"""

import base64
import email
import email.policy
import glob
import http.client
import json
import os
import resource
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
HAINEKOCTL = os.environ.get("HAINEKOCTL") or os.path.join(REPO, "build", "hainekoctl")

HOSTNAME = "haineko.test.example.net"

# The usual relay setup: every recipient domain goes to the File mailer writing into
# ROOT/outbox; example.jp and example.com are permitted recipient domains.
DEFAULT_ETC = {
    "haineko.cf": {"smtpd": {"hostname": HOSTNAME}},
    "mailertable": {"default": {"mailer": "File", "path": "outbox"}},
    "recipients": {"open-relay": 0, "domainpart": ["example.jp", "example.com"]},
}

STOP_TIMEOUT = 10
START_TIMEOUT = 15

# Variables of the caller that would change what the server reads.
_SCRUBBED_ENV = ("HAINEKO_ROOT", "HAINEKO_CONF", "HAINEKO_AUTH", "HAINEKO_DEBUG", "HAINEKO_QUEUE_URL", "HOSTNAME",
                 "SERVER_NAME")


def require_binary():
    if not (os.path.isfile(HAINEKOCTL) and os.access(HAINEKOCTL, os.X_OK)):
        raise RuntimeError("hainekoctl not found at %s: set HAINEKOCTL or build build/hainekoctl" % HAINEKOCTL)


def free_port():
    """A TCP port nobody listens on right now (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def non_loopback_ipv4():
    """An IPv4 address of this host that is not 127/8, or None."""
    candidates = []
    for probe in ("198.51.100.1", "203.0.113.1", "8.8.8.8"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))  # no packet is sent for UDP connect
                candidates.append(s.getsockname()[0])
        except OSError:
            pass
    try:
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        pass
    for addr in candidates:
        if addr.startswith("127.") or addr == "0.0.0.0":
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((addr, 0))
            return addr
        except OSError:
            continue
    return None


def yaml_text(content):
    """Table content as YAML: str/bytes as is, anything else as JSON (JSON is YAML)."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    return (json.dumps(content, indent=2) + "\n").encode("utf-8")


def run_ctl(*args, env=None, timeout=30, input=None, cwd=None):
    """Runs hainekoctl with arguments; returns CompletedProcess (text)."""
    require_binary()
    full_env = clean_env()
    if env:
        full_env.update(env)
    return subprocess.run([HAINEKOCTL, *args], env=full_env, capture_output=True, text=True, timeout=timeout,
                          input=input, cwd=cwd)


def clean_env():
    env = dict(os.environ)
    for k in _SCRUBBED_ENV:
        env.pop(k, None)
    return env


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage or dict-like with .get()
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return "<Response %s %r>" % (self.status, self.body[:400])


def basic_auth(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class Haineko:
    """One `hainekoctl run` on a free port with its own HAINEKO_ROOT."""

    def __init__(self, etc=None, args=(), env=None, host="127.0.0.1", use_defaults=True, extra_files=None,
                 root=None, smtp_listen=None):
        """root: an existing working tree to use as it is (it is still removed by cleanup()).
        smtp_listen: SMTP listeners as haineko.cf's smtp.listen entries without their address;
        each gets 127.0.0.1 and a free port at start (self.smtp_ports, in the same order)."""
        require_binary()
        if root is not None:
            use_defaults = False
        self.root = root or tempfile.mkdtemp(prefix="haineko-it-")
        self.etc = os.path.join(self.root, "etc")
        self.outbox = os.path.join(self.root, "outbox")
        os.makedirs(self.etc, exist_ok=True)
        os.makedirs(self.outbox, exist_ok=True)
        files = dict(DEFAULT_ETC) if use_defaults else {}
        for name, content in (etc or {}).items():
            if content is None:
                files.pop(name, None)
            else:
                files[name] = content
        for name, content in files.items():
            self.write_etc(name, content)
        self.conf = files.get("haineko.cf")
        self.smtp_listen = list(smtp_listen or [])
        self.smtp_ports = []
        for path, content in (extra_files or {}).items():
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(yaml_text(content))
        self.args = list(args)
        self.env = dict(env or {})
        self.host = host
        self.connect_host = "127.0.0.1" if host in ("0.0.0.0", "127.0.0.1") else host
        self.proc = None
        self.port = None
        self.descriptor_limit = None  # RLIMIT_NOFILE for the server, when set before start()
        self.file_size_limit = None  # RLIMIT_FSIZE (bytes) for the server, when set before start()
        self.stderr_path = os.path.join(self.root, "server.stderr")
        self._stderr_file = None

    # ----- files -----
    def write_etc(self, name, content, mode=None):
        path = os.path.join(self.etc, name)
        with open(path, "wb") as f:
            f.write(yaml_text(content))
        if mode is not None:
            os.chmod(path, mode)
        return path

    def eml_files(self):
        return sorted(glob.glob(os.path.join(self.outbox, "*.eml")))

    def messages_for(self, queueid):
        """(path, raw bytes, parsed message) of each .eml whose Message-Id starts with queueid."""
        out = []
        for path in self.eml_files():
            with open(path, "rb") as f:
                raw = f.read()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            mid = msg.get("Message-Id", "")
            if str(mid).strip().startswith("<" + queueid + "."):
                out.append((path, raw, msg))
        return out

    def messages_to(self, rcpt):
        """The parsed messages in the outbox whose To is rcpt."""
        out = []
        for path in self.eml_files():
            with open(path, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            if str(msg["To"]) == rcpt:
                out.append(msg)
        return out

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ----- process -----
    def start(self):
        last_error = None
        for _attempt in range(3):
            self.port = free_port()
            if self.smtp_listen:
                self._write_smtp_listeners()
            full_env = clean_env()
            full_env["HAINEKO_ROOT"] = self.root
            full_env.update(self.env)
            self._stderr_file = open(self.stderr_path, "ab")
            cmd = [HAINEKOCTL, "run", "-o", self.host, "-p", str(self.port), *self.args]
            self.proc = subprocess.Popen(cmd, env=full_env, stdin=subprocess.DEVNULL, stdout=self._stderr_file,
                                         stderr=self._stderr_file, cwd=self.root, preexec_fn=self._limits)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    conn = http.client.HTTPConnection(self.connect_host, self.port, timeout=2)
                    conn.request("GET", "/")
                    resp = conn.getresponse()
                    resp.read()
                    conn.close()
                    return self
                except OSError:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("hainekoctl did not answer GET / within %ss:\n%s" % (START_TIMEOUT,
                                                                                        self.stderr_text()))
            last_error = "hainekoctl exited with %s:\n%s" % (self.proc.returncode, self.stderr_text())
            self._stderr_file.close()
            if "cannot listen" not in self.stderr_text():
                break  # not a port race: do not retry
        raise RuntimeError(last_error)

    def _write_smtp_listeners(self):
        conf = dict(self.conf) if isinstance(self.conf, dict) else {}
        smtp = dict(conf.get("smtp") or {})
        self.smtp_ports = [free_port() for _ in self.smtp_listen]
        smtp["listen"] = [dict(entry, address="127.0.0.1:%d" % port)
                          for entry, port in zip(self.smtp_listen, self.smtp_ports)]
        conf["smtp"] = smtp
        self.write_etc("haineko.cf", conf)

    @property
    def smtp_port(self):
        return self.smtp_ports[0]

    def _limits(self):
        """In the child before exec: a descriptor or file-size limit, when the test set one."""
        if self.descriptor_limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.descriptor_limit, self.descriptor_limit))
        if self.file_size_limit:
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_size_limit, self.file_size_limit))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM; returns the exit status (None if it did not exit in time; then it is killed)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        if self._stderr_file:
            self._stderr_file.close()
        return rc

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def log_lines(self, text=""):
        """The lines of this server's log (its stderr) that contain text."""
        return [line for line in self.stderr_text().splitlines() if text in line]

    def wait_log(self, text, count=1, timeout=10.0):
        """Waits until count log lines contain text; returns those lines (maybe fewer)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log_lines(text)
            if len(lines) >= count or time.monotonic() >= deadline:
                return lines
            time.sleep(0.05)

    def reload(self, timeout=10.0):
        """SIGHUP, then waits for the log to say how the reload went: returns True for
        "configuration reloaded", False for "reload failed"; raises if it says neither."""
        done = len(self.log_lines("configuration reloaded"))
        failed = len(self.log_lines("reload failed"))
        self.signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.log_lines("configuration reloaded")) > done:
                return True
            if len(self.log_lines("reload failed")) > failed:
                return False
            time.sleep(0.05)
        raise AssertionError("no reload outcome in the log %ss after SIGHUP:\n%s" % (timeout, self.stderr_text()[-2000:]))

    # ----- HTTP -----
    def connection(self, timeout=30, via=None, source=None):
        """via: connect to this address of the server (a listen address of 0.0.0.0 takes any);
        source: the client's own address (another 127/8 address is a client that is not
        127.0.0.1)."""
        return http.client.HTTPConnection(via or self.connect_host, self.port, timeout=timeout,
                                          source_address=(source, 0) if source else None)

    def request(self, method, path, body=None, headers=None, timeout=30, conn=None, via=None, source=None):
        own = conn is None
        if own:
            conn = self.connection(timeout, via, source)
        hdrs = {"User-Agent": "haineko-it/1.0"}
        hdrs.update(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.headers, data)
        finally:
            if own:
                conn.close()

    def submit(self, payload, headers=None, conn=None, timeout=30, via=None, source=None):
        if isinstance(payload, (dict, list)):
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        else:
            body = payload
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        return self.request("POST", "/submit", body=body, headers=hdrs, conn=conn, timeout=timeout, via=via,
                            source=source)


def run_broken(test, *args, env=None, timeout=10, cwd=None):
    """Runs hainekoctl expecting it to exit (a broken setup); fails the test if it keeps
    running (it started serving) instead. Returns the CompletedProcess."""
    try:
        return run_ctl(*args, env=env, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        test.fail("hainekoctl %s kept running with a broken configuration: %s" % (" ".join(args), e))


class ConfigErrorAssertions:
    """For unittest.TestCase subclasses: what a broken configuration must look like."""

    def assert_one_line_error(self, proc, path, line=None):
        """Exit status 2 and one line on stderr naming path:LINE (line, when given)."""
        self.assertEqual(proc.returncode, 2, proc.stderr)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(path, lines[0])
        m = re.search(re.escape(path) + r":(\d+)", lines[0])
        self.assertIsNotNone(m, "no line number after the file name: %r" % lines[0])
        if line is not None:
            self.assertEqual(int(m.group(1)), line, lines[0])
        return lines[0]


def answering(port, timeout=10.0, host="127.0.0.1"):
    """The status of GET / on host:port once something answers it, or None after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            try:
                conn.request("GET", "/")
                return conn.getresponse().status
            finally:
                conn.close()
        except OSError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)


def pid_alive(pid):
    """True while a process with this pid exists (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pid_gone(pid, timeout=10.0):
    """Waits until pid no longer runs; True if it went within timeout."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def kill_quietly(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def strict_json(data):
    """Parses bytes as RFC 8259 JSON: valid UTF-8, and no NaN or Infinity (which Python's
    json module would accept); raises ValueError otherwise."""
    def refuse(name):
        raise ValueError("not JSON: %s" % name)
    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def setup_tree(test, name="tree"):
    """`hainekoctl setup` into a new temporary directory (removed after the test); its path."""
    parent = tempfile.mkdtemp(prefix="haineko-tree-")
    test.addCleanup(shutil.rmtree, parent, True)
    dest = os.path.join(parent, name)
    proc = run_ctl("setup", "--dest", dest)
    if proc.returncode != 0:
        raise AssertionError("hainekoctl setup failed: %s" % proc.stderr)
    return dest


def raw_exchange(host, port, data, timeout=10.0, read_limit=1 << 20):
    """Sends raw bytes and reads until the server closes or timeout; returns bytes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        total = 0
        try:
            while total < read_limit:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                total += len(b)
        except (socket.timeout, ConnectionResetError):
            pass
        return b"".join(chunks)


def header_lines(raw):
    """The physical lines of a message's or an HTTP answer's header section (without CRLF)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def parse_raw_response(data):
    """Parses one HTTP/1.x response out of raw bytes: (status, headers dict lower-case, body)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return status, headers, body


def message(**overrides):
    """A valid submission; keyword arguments replace top-level keys (header merged)."""
    m = {
        "ehlo": "client.example.net",
        "mail": "sender@example.org",
        "rcpt": ["neko@example.jp"],
        "header": {"from": "Sender <sender@example.org>", "subject": "Integration test"},
        "body": "Hello from the integration tests.",
    }
    header = overrides.pop("header", None)
    m.update(overrides)
    if header is not None:
        h = dict(m["header"])
        for k, v in header.items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        m["header"] = h
    return m


ERROR_ENTRY_KEYS = {"dsn", "code", "host", "port", "rcpt", "error", "mailer", "command", "message"}
SESSION_KEYS = {"queueid", "addresser", "recipient", "referer", "useragent", "remoteaddr", "remoteport",
                "timestamp", "response"}


class HainekoTestCase(unittest.TestCase):
    """Base class: one server per class, described by class attributes."""

    etc = None          # dict name -> content merged over DEFAULT_ETC (None value removes)
    args = ()
    env = None
    host = "127.0.0.1"
    use_defaults = True
    smtp_listen = None  # SMTP listeners (haineko.cf smtp.listen entries without address)
    start_server = True
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.start_server:
            return
        cls.server = cls.make_server(etc=cls.etc, args=cls.args, env=cls.env, host=cls.host,
                                     use_defaults=cls.use_defaults, smtp_listen=cls.smtp_listen)

    @classmethod
    def class_peer(cls, peer):
        """A peer for the whole class: started (when it has start()) and cleaned up (or
        stopped) after the class's last test."""
        started = peer.start() if hasattr(peer, "start") else peer
        cls.addClassCleanup(getattr(peer, "cleanup", None) or peer.stop)
        return started

    @classmethod
    def make_server(cls, start=True, **kw):
        srv = Haineko(**kw)
        cls.addClassCleanup(srv.cleanup)
        if start:
            srv.start()
            cls.addClassCleanup(cls._stop_checked, srv)
        return srv

    @classmethod
    def _stop_checked(cls, srv):
        rc = srv.stop()
        if rc != 0:
            raise AssertionError("hainekoctl run did not exit 0 within %ss after SIGTERM (status %r); stderr:\n%s"
                                 % (STOP_TIMEOUT, rc, srv.stderr_text()[-4000:]))

    def start_own_server(self, **kw):
        """A server for one test, stopped (exit status checked) at the end of it."""
        srv = Haineko(**kw)
        self.addCleanup(srv.cleanup)
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        return srv

    # ----- assertions -----
    def assertJsonAnswer(self, resp):
        ctype = resp.header("Content-Type") or ""
        self.assertTrue(ctype.lower().startswith("application/json"), "Content-Type %r: %r" % (ctype, resp))
        self.assertEqual((resp.header("X-Content-Type-Options") or "").lower(), "nosniff", resp)
        self.assertIsNotNone(resp.json, "answer is not JSON: %r" % resp)

    def assertSessionShape(self, j, started=True):
        self.assertIsInstance(j, dict)
        self.assertTrue(SESSION_KEYS.issubset(j.keys()), "missing keys %s in %r" % (SESSION_KEYS - set(j), j))
        if started:
            self.assertIsInstance(j["queueid"], str)
            self.assertEqual(len(j["queueid"]), 16, j["queueid"])
        self.assertIsInstance(j["recipient"], list)
        self.assertIsInstance(j["response"], list)
        self.assertIsInstance(j["timestamp"], dict)
        self.assertIn("datetime", j["timestamp"])
        self.assertIn("unixtime", j["timestamp"])

    def assertCheck(self, resp, status, command, code, dsn, message, rcpt=None, index=0, count=1):
        """A failing check: HTTP status and the one (or index-th) response entry."""
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, status, resp)
        j = resp.json
        self.assertSessionShape(j, started=False)
        self.assertEqual(len(j["response"]), count, j)
        entry = j["response"][index]
        self.assertEqual(set(entry), ERROR_ENTRY_KEYS, entry)
        self.assertEqual(entry["command"], command, entry)
        self.assertIsInstance(entry["code"], int, "code must be a JSON number: %r" % entry)
        self.assertNotIsInstance(entry["code"], bool)
        self.assertEqual(entry["code"], code, entry)
        self.assertEqual(entry["dsn"], dsn, entry)
        self.assertEqual(entry["message"], [message], entry)
        self.assertEqual(entry["error"], 1, entry)
        self.assertIsNone(entry["host"], entry)
        self.assertIsNone(entry["port"], entry)
        self.assertIsNone(entry["mailer"], entry)
        self.assertEqual(entry["rcpt"], rcpt, entry)
        return j
