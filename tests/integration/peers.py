"""Real peers for the relay tests: Postfix's smtp-sink, aiosmtpd servers that record
what they get (and misbehave on request), a listener that never answers, dnsmasq, and
a throw-away CA with server certificates made by the `openssl` command.

Every port is picked at run time. Only /usr/bin/python3's standard library and
python3-aiosmtpd are used.
"""

import asyncio
import collections
import email
import email.policy
import glob
import logging
import os
import pwd
import shutil
import socket
import ssl
import struct
import subprocess
import socketserver
import tempfile
import threading
import time

from harness import free_port

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult
    _AIOSMTPD_MISSING = None
except ImportError as _e:  # pragma: no cover
    Controller = None
    SMTP = object
    AuthResult = None
    _AIOSMTPD_MISSING = _e


def require_aiosmtpd():
    """A test that needs aiosmtpd fails (never skips) when it is missing."""
    if _AIOSMTPD_MISSING is not None:
        raise RuntimeError("python3-aiosmtpd is needed by this test and is not installed (%s); "
                           "apt-get install python3-aiosmtpd" % _AIOSMTPD_MISSING)

logging.getLogger("mail.log").setLevel(logging.CRITICAL)

SMTP_SINK = "/usr/sbin/smtp-sink"
DNSMASQ = "/usr/sbin/dnsmasq"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def stop_process(proc):
    """Terminate a peer, killing it if it does not go within 5 s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def smtp_client(test, port, helo="client.example.org", timeout=20):
    """An smtplib session to 127.0.0.1:port after EHLO, closed (QUIT, errors ignored) at the
    end of the test."""
    import smtplib
    s = smtplib.SMTP("127.0.0.1", port, timeout=timeout)

    def quit_quietly():
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass

    test.addCleanup(quit_quietly)
    s.ehlo(helo)
    return s


def wait_for(predicate, timeout=10.0, interval=0.02):
    """Polls predicate until it is true (returns its value) or timeout (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (for a DNS server)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP+TCP port")


def smtp_greeting_ok(port, host="127.0.0.1", timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            data = s.recv(512)
            try:
                s.sendall(b"QUIT\r\n")
                s.recv(512)
            except OSError:
                pass
            return data.startswith(b"220")
    except OSError:
        return False


# ----------------------------------------------------------------------------- certificates

class TlsFiles:
    """A CA, a server certificate for DNS:localhost + IP:127.0.0.1 and one for another name."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="haineko-tls-")
        d = self.dir
        self.ca_key = os.path.join(d, "ca.key")
        self.ca_cert = os.path.join(d, "ca.crt")
        self.server_key = os.path.join(d, "server.key")
        self.server_cert = os.path.join(d, "server.crt")
        self.other_key = os.path.join(d, "other.key")
        self.other_cert = os.path.join(d, "other.crt")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        self._run("req", "-x509", *ec, "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "2",
                  "-subj", "/CN=Haineko Integration Test CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._leaf("server", "localhost", "DNS:localhost,IP:127.0.0.1")
        self._leaf("other", "other.invalid", "DNS:other.invalid")

    def _run(self, *args):
        subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=60)

    def _leaf(self, name, cn, san):
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        crt = os.path.join(self.dir, name + ".crt")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % san)
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                  "-out", csr, "-subj", "/CN=" + cn)
        self._run("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key, "-CAcreateserial",
                  "-out", crt, "-days", "2", "-extfile", ext)

    def server_context(self, which="server"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(os.path.join(self.dir, which + ".crt"), os.path.join(self.dir, which + ".key"))
        return ctx

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------- smtp-sink

class SinkMessage:
    """One transaction dumped by smtp-sink -d."""

    def __init__(self, path, data):
        self.path = path
        self.helo_args = None
        self.mail_args = None
        self.rcpt_args = []
        self.proto = None
        lines = data.split(b"\n")
        i = 0
        while i < len(lines) and lines[i].startswith(b"X-"):
            name, _, value = lines[i].rstrip(b"\r").partition(b": ")
            value = value.decode("utf-8", "replace")
            if name == b"X-Helo-Args":
                self.helo_args = value
            elif name == b"X-Mail-Args":
                self.mail_args = value
            elif name == b"X-Rcpt-Args":
                self.rcpt_args.append(value)
            elif name == b"X-Client-Proto":
                self.proto = value
            i += 1
        if i < len(lines) and lines[i].startswith(b"Received: "):  # smtp-sink's own three-line header
            i += 1
            while i < len(lines) and lines[i][:1] in (b"\t", b" "):
                i += 1
        body = lines[i:]
        if body and body[-1] == b"":
            body = body[:-1]  # the final newline
        if body and body[-1].rstrip(b"\r") == b"":
            body = body[:-1]  # the empty line smtp-sink appends
        # smtp-sink has already undone the dot-stuffing and turned CRLF into LF.
        self.raw = b"\n".join(line.rstrip(b"\r") for line in body) + b"\n"
        self.msg = email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def rcpts(self):
        return [a.split()[0].strip("<>") for a in self.rcpt_args]

    def __repr__(self):
        return "<SinkMessage %s mail=%r rcpt=%r>" % (os.path.basename(self.path), self.mail_args, self.rcpt_args)


class SmtpSink:
    """Postfix's smtp-sink on a free port, dumping every transaction into a directory.

    listen: the address to listen on (another 127/8 address lets two sinks share a port);
    port: a given port (one try) instead of a free one."""

    def __init__(self, options=(), hostname=None, listen="127.0.0.1", port=None):
        self.options = list(options)
        self.hostname = hostname
        self.listen = listen
        self.fixed_port = port
        self.dir = None
        self.port = None
        self.proc = None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="haineko-sink-")
        os.chmod(self.dir, 0o777)
        for _ in range(1 if self.fixed_port else 5):
            self.port = self.fixed_port or free_port()
            cmd = [SMTP_SINK]
            if os.geteuid() == 0:
                cmd += ["-u", "nobody"]
            if self.hostname:
                cmd += ["-h", self.hostname]
            cmd += ["-d", os.path.join(self.dir, "m."), *self.options, "%s:%d" % (self.listen, self.port), "100"]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if wait_for(lambda: self.proc.poll() is not None or smtp_greeting_ok(self.port, self.listen), 5) and \
                    self.proc.poll() is None:
                return self
            self.stop()
        raise RuntimeError("smtp-sink did not start on %s:%s" % (self.listen, self.port))

    def files(self):
        return sorted(glob.glob(os.path.join(self.dir, "m.*")), key=os.path.getmtime)

    def messages(self):
        out = []
        for path in self.files():
            with open(path, "rb") as f:
                out.append(SinkMessage(path, f.read()))
        return out

    def wait_messages(self, count, timeout=10):
        wait_for(lambda: len(self.files()) >= count, timeout)
        time.sleep(0.05)  # let the last file be closed
        return self.messages()

    def for_rcpt(self, rcpt):
        return [m for m in self.messages() if rcpt in m.rcpts]

    def wait_for_rcpt(self, rcpt, count=1, timeout=10):
        wait_for(lambda: len(self.for_rcpt(rcpt)) >= count, timeout)
        return self.for_rcpt(rcpt)

    def stop(self):
        stop_process(self.proc)

    def cleanup(self):
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------- aiosmtpd

STALL = object()  # a rcpt_hook answer: never answer this RCPT

Received = collections.namedtuple("Received", "mail_from mail_options rcpt_tos rcpt_options content tls auth_user")


class _PeerSMTP(SMTP):
    def __init__(self, handler, peer, **kw):
        super().__init__(handler, **kw)
        self._peer = peer
        self._counted = False

    def connection_made(self, transport):
        first = not self._counted and self._original_transport is None
        super().connection_made(transport)
        if first:
            self._counted = True
            self._peer._opened()

    def connection_lost(self, error):
        if self._counted:
            self._counted = False
            self._peer._closed()
        super().connection_lost(error)

    def over_tls(self):
        return self.transport is not None and self.transport.get_extra_info("ssl_object") is not None

    async def smtp_AUTH(self, arg):
        self._peer._command("AUTH", arg, self.over_tls())
        await super().smtp_AUTH(arg)

    async def smtp_RSET(self, arg):
        self._peer._command("RSET", arg, self.over_tls())
        await super().smtp_RSET(arg)

    async def smtp_STARTTLS(self, arg):
        self._peer._command("STARTTLS", arg, False)
        await super().smtp_STARTTLS(arg)

    async def smtp_DATA(self, arg):
        peer = self._peer
        if peer.drop_in_data and self.envelope.rcpt_tos and any(peer.drop_in_data(r) for r in self.envelope.rcpt_tos):
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.readuntil(b"\r\n")  # the first line of the message, then hang up
            peer._command("DROPPED", ",".join(self.envelope.rcpt_tos), False)
            self.transport.close()
            return
        await super().smtp_DATA(arg)


class _Handler:
    def __init__(self, peer):
        self.peer = peer

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.peer.lock:
            self.peer.ehlo_names.append(hostname)
        extra = ["250-" + x for x in self.peer.extra_ehlo]
        return responses[:-1] + extra + responses[-1:]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        peer = self.peer
        with peer.lock:
            peer.rcpt_counts[address] += 1
            n = peer.rcpt_counts[address]
        answer = peer.rcpt_hook(address, n) if peer.rcpt_hook else None
        if answer is STALL:
            with peer.lock:
                peer.stalled.append(address)
            await asyncio.sleep(3600)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        peer = self.peer
        auth_user = None
        if session.authenticated and session.auth_data is not None:
            login = getattr(session.auth_data, "login", None)
            auth_user = login.decode() if isinstance(login, bytes) else login
        with peer.lock:
            peer.received.append(Received(envelope.mail_from, list(envelope.mail_options), list(envelope.rcpt_tos),
                                          list(envelope.rcpt_options), envelope.original_content,
                                          server.over_tls(), auth_user))
        return peer.data_reply or "250 2.0.0 Ok: queued as NEKO"


class AioPeer:
    """An aiosmtpd server in a thread that records envelopes, commands and connections.

    tls: a server SSLContext offered by STARTTLS; implicit: a server SSLContext for the
    whole connection (SMTPS); users: {login: password} enables AUTH (PLAIN, LOGIN);
    auth_require_tls: AUTH only after TLS (aiosmtpd's default); extra_ehlo: more EHLO
    keywords; rcpt_hook(address, nth) -> reply text, STALL or None; drop_in_data(rcpt) ->
    hang up after the first line of DATA.
    """

    def __init__(self, tls=None, implicit=None, users=None, auth_require_tls=True, extra_ehlo=(),
                 rcpt_hook=None, drop_in_data=None, data_reply=None, hostname="peer.example.net"):
        require_aiosmtpd()
        self.lock = threading.Lock()
        self.tls = tls
        self.implicit = implicit
        self.users = users
        self.auth_require_tls = auth_require_tls
        self.extra_ehlo = list(extra_ehlo)
        self.rcpt_hook = rcpt_hook
        self.drop_in_data = drop_in_data
        self.data_reply = data_reply
        self.hostname = hostname
        self.port = None
        self.controller = None
        self.reset()

    def reset(self):
        with self.lock:
            self.received = []
            self.commands = []      # (verb, arg, over_tls)
            self.auth_attempts = []  # (mechanism, login, ok)
            self.ehlo_names = []
            self.rcpt_counts = collections.Counter()
            self.stalled = []
            self.current = 0
            self.max_current = 0
            self.total = 0

    # called on the peer's loop
    def _opened(self):
        with self.lock:
            self.current += 1
            self.total += 1
            self.max_current = max(self.max_current, self.current)

    def _closed(self):
        with self.lock:
            self.current -= 1

    def _command(self, verb, arg, over_tls):
        with self.lock:
            self.commands.append((verb, arg, over_tls))

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
        ok = self.users is not None and self.users.get(login) == password
        with self.lock:
            self.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def start(self):
        kwargs = dict(hostname="127.0.0.1", server_hostname=self.hostname, ready_timeout=10,
                      auth_require_tls=self.auth_require_tls, decode_data=False)
        if self.tls is not None:
            kwargs["tls_context"] = self.tls
        if self.implicit is not None:
            kwargs["ssl_context"] = self.implicit
        if self.users is not None:
            kwargs["authenticator"] = self._authenticator
        peer = self

        class _Controller(Controller):
            def factory(self):
                return _PeerSMTP(self.handler, peer, **self.SMTP_kwargs)

        last = None
        for _ in range(5):
            self.port = free_port()
            self.controller = _Controller(_Handler(self), port=self.port, **kwargs)
            try:
                self.controller.start()
            except Exception as e:  # port taken in between: try another
                last = e
                continue
            # start() opens one connection of its own to make the server: forget it
            wait_for(lambda: self.current == 0, 5)
            self.reset()
            return self
        raise RuntimeError("aiosmtpd did not start: %r" % (last,))

    def stop(self):
        if self.controller is not None:
            try:
                self.controller.stop()
            except Exception:
                pass
            self.controller = None

    # ----- reading what happened -----
    def for_rcpt(self, rcpt):
        with self.lock:
            return [m for m in self.received if rcpt in m.rcpt_tos]

    def wait_for_rcpt(self, rcpt, count=1, timeout=10):
        wait_for(lambda: len(self.for_rcpt(rcpt)) >= count, timeout)
        return self.for_rcpt(rcpt)

    def verbs(self, verb):
        with self.lock:
            return [c for c in self.commands if c[0] == verb]


class StallListener:
    """Accepts TCP connections and never says a word (no SMTP greeting)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)
            except OSError:
                continue

    def stop(self):
        self._stop = True
        self.thread.join(2)
        for c in self.accepted:
            c.close()
        self.sock.close()


# ----------------------------------------------------------------------------- scripted SMTP

class ScriptedSmtpPeer:
    """An SMTP server that answers from a table of canned replies, one per stage, so that
    it can misbehave where aiosmtpd cannot (the greeting, STARTTLS, the end of DATA).

    replies: {stage: reply} over DEFAULT_REPLIES; a reply is its text without the final
    CRLF (CRLF between the lines of a multi-line one). Stages: greeting, EHLO, HELO,
    STARTTLS, AUTH (the AUTH command), AUTH-USER and AUTH-PASS (the two lines of AUTH
    LOGIN after a 334), MAIL, RCPT, DATA, DOT (the reply to the end of the data), RSET,
    QUIT, NOOP, other. EHLO is made from ehlo_keywords unless replies names it.
    tls: a server SSLContext; a 220 to STARTTLS then starts TLS.
    The OS picks the port (bind to port 0), so there is no race for it.
    """

    DEFAULT_REPLIES = {
        "greeting": "220 scripted.example.net ESMTP",
        "HELO": "250 scripted.example.net",
        "STARTTLS": "220 2.0.0 Ready to start TLS",
        "AUTH": "334 VXNlcm5hbWU6",
        "AUTH-USER": "334 UGFzc3dvcmQ6",
        "AUTH-PASS": "235 2.7.0 Authentication successful",
        "MAIL": "250 2.1.0 Ok",
        "RCPT": "250 2.1.5 Ok",
        "DATA": "354 End data with <CR><LF>.<CR><LF>",
        "DOT": "250 2.0.0 Ok: queued as SCRIPTED",
        "RSET": "250 2.0.0 Ok",
        "QUIT": "221 2.0.0 Bye",
        "NOOP": "250 2.0.0 Ok",
        "other": "502 5.5.2 Error: command not recognized",
    }
    VERBS = ("EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "QUIT", "NOOP")

    def __init__(self, replies=None, ehlo_keywords=("8BITMIME", "ENHANCEDSTATUSCODES"), tls=None):
        self.replies = dict(self.DEFAULT_REPLIES)
        self.replies["EHLO"] = "\r\n".join(
            ["250-scripted.example.net"] + ["250-" + k for k in ehlo_keywords[:-1]] +
            ["250 " + ehlo_keywords[-1]] if ehlo_keywords else ["250 scripted.example.net"])
        self.replies.update(replies or {})
        self.tls = tls
        self.lock = threading.Lock()
        self.commands = []   # (stage, line as received, over_tls)
        self.messages = []   # the data of each transaction that reached its final dot
        self.connections = 0
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 60

            def handle(self):
                peer._session(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = False

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _record(self, stage, line, over_tls):
        with self.lock:
            self.commands.append((stage, line, over_tls))

    def stages(self):
        with self.lock:
            return [c[0] for c in self.commands]

    def _session(self, sock):
        with self.lock:
            self.connections += 1
        sock.settimeout(60)
        over_tls = False
        reader = sock.makefile("rb")

        def send(reply):
            sock.sendall(reply.encode("utf-8") + b"\r\n")

        try:
            send(self.replies["greeting"])
            while True:
                line = reader.readline(65536)
                if not line:
                    return
                text = line.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = text.split(" ", 1)[0].upper()
                stage = verb if verb in self.VERBS else "other"
                self._record(stage, text, over_tls)
                reply = self.replies[stage]
                send(reply)
                if stage == "QUIT":
                    return
                if stage == "STARTTLS" and reply.startswith("220") and self.tls is not None:
                    reader.close()
                    sock = self.tls.wrap_socket(sock, server_side=True)
                    over_tls = True
                    reader = sock.makefile("rb")
                elif stage == "AUTH" and reply.startswith("334") and text.upper().startswith("AUTH LOGIN"):
                    for step in ("AUTH-USER", "AUTH-PASS"):
                        answer = reader.readline(65536)
                        if not answer:
                            return
                        self._record(step, answer.rstrip(b"\r\n").decode("utf-8", "replace"), over_tls)
                        send(self.replies[step])
                        if not self.replies[step].startswith("334"):
                            break
                elif stage == "DATA" and reply.startswith("354"):
                    data = []
                    while True:
                        chunk = reader.readline(1 << 20)
                        if not chunk:
                            return
                        if chunk == b".\r\n":
                            break
                        data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                    with self.lock:
                        self.messages.append(b"".join(data))
                    self._record("DOT", ".", over_tls)
                    send(self.replies["DOT"])
        except (OSError, ssl.SSLError):
            return
        finally:
            try:
                sock.close()
            except OSError:
                pass


# ----------------------------------------------------------------------------- dnsmasq

def dns_query(port, name, qtype=15, timeout=1.0):
    """One UDP query to 127.0.0.1:port; returns (rcode, ancount) or None."""
    q = struct.pack(">HHHHHH", 0x4e4b, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(q, ("127.0.0.1", port))
            r = s.recv(1024)
        except OSError:
            return None
    return r[3] & 15, struct.unpack(">H", r[6:8])[0]


class Dnsmasq:
    """dnsmasq answering for *.test from command-line records only (no upstream, no hosts)."""

    def __init__(self, records):
        self.records = list(records)
        self.port = None
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="haineko-dns-")

    def start(self):
        user = pwd.getpwuid(os.geteuid()).pw_name
        for _ in range(5):
            self.port = free_udp_tcp_port()
            cmd = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--port=%d" % self.port,
                   "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                   "--user=" + user, "--pid-file=" + os.path.join(self.dir, "pid"), "--cache-size=0",
                   "--local=/test/", *self.records]
            with open(os.path.join(self.dir, "log"), "ab") as log:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
            if wait_for(lambda: self.proc.poll() is not None or dns_query(self.port, "probe.test", 1, 0.2), 5) and \
                    self.proc.poll() is None:
                return self
            self.stop()
        raise RuntimeError("dnsmasq did not start")

    def stop(self):
        stop_process(self.proc)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"


class DovecotLmtp:
    """Dovecot's LMTP server (dovecot-lmtpd) in a temp dir of its own: a TCP listener on a
    free port and a Unix socket, maildirs under the temp dir, and the users given
    ({address: quota_bytes or None}); an address not in the list does not exist. Runs in the
    foreground so that stop() ends it; as root the mail belongs to nobody, else to us."""

    def __init__(self, users):
        for tool in (DOVECOT, DOVEADM):
            if not os.access(tool, os.X_OK):
                raise RuntimeError("%s is missing: install dovecot-core and dovecot-lmtpd (scripts/deps.sh test)" % tool)
        self.dir = tempfile.mkdtemp(prefix="haineko-dovecot-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.socket = os.path.join(self.dir, "run", "lmtp")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log = os.path.join(self.dir, "dovecot.log")
        root = os.getuid() == 0
        user = pwd.getpwnam("nobody") if root else pwd.getpwuid(os.getuid())
        self._write_users(users, user)
        self._write_conf(user, "nogroup" if root else None)
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        if not wait_for(self._greets, 15):
            self.stop()
            raise RuntimeError("dovecot did not answer on port %d: %s" % (self.port, self.log_text()))

    def _write_users(self, users, user):
        mail = os.path.join(self.dir, "mail")
        os.makedirs(mail)
        os.chown(mail, user.pw_uid, user.pw_gid)
        lines = []
        for address, quota in users.items():
            local, domain = address.split("@")
            home = os.path.join(mail, domain, local)
            extra = "userdb_quota_rule=*:storage=%db" % quota if quota is not None else ""
            lines.append("%s::%d:%d::%s::%s\n" % (address, user.pw_uid, user.pw_gid, home, extra))
        self.users_file = os.path.join(self.dir, "users")
        with open(self.users_file, "w") as f:
            f.writelines(lines)

    def _write_conf(self, user, group):
        group = group or __import__("grp").getgrgid(user.pw_gid).gr_name
        d = self.dir
        text = """protocols = lmtp
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
default_internal_user = {u}
default_internal_group = {g}
default_login_user = {u}
first_valid_uid = {uid}
mail_location = maildir:~/Maildir
mail_plugins = quota
plugin {{
  quota = maildir:User quota
}}
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""".format(d=d, u=user.pw_name, g=group, uid=min(user.pw_uid, 500), users=self.users_file, port=self.port)
        with open(self.conf, "w") as f:
            f.write(text)

    def _greets(self):
        if self.proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                return s.recv(512).startswith(b"220")
        except OSError:
            return False

    def messages(self, address):
        """The full text of every message in the address's INBOX, read back by doveadm."""
        out = subprocess.run([DOVEADM, "-c", self.conf, "-f", "flow", "fetch", "-u", address, "text", "mailbox",
                              "INBOX"], capture_output=True, timeout=30)
        if out.returncode != 0:
            return []
        text = out.stdout.decode("utf-8", "replace")
        return [t for t in text.split("text=")[1:] if t.strip()]

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
