"""A recording HTTP(S) server standing in for an email cloud's API in the integration
tests: it keeps every request it receives (method, path, headers, body) and answers
with the answers a test queued, in order, or with a default answer.

HTTP/1.1 with keep-alive and Content-Length on every answer, as Haineko pools its
connections. Also: an AWS Signature Version 4 checker, a multipart/form-data splitter
and a test CA made with the `openssl` command.

Only the standard library of /usr/bin/python3 is used.
"""

import email
import email.policy
import hashlib
import hmac
import http.server
import json
import os
import re
import ssl
import subprocess
import threading
import time


class Answer:
    """One answer to play back. body: bytes, str, or anything else (sent as JSON).
    delay: seconds to wait before answering (longer than the route's timeout: a timeout)."""

    def __init__(self, status=200, body=b"", headers=None, delay=0.0):
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, bytes):
            self.body = body
        elif isinstance(body, str):
            self.body = body.encode("utf-8")
        else:
            self.body = json.dumps(body).encode("utf-8")
            self.headers.setdefault("Content-Type", "application/json")
        self.delay = delay


class Recorded:
    """One request as the peer received it."""

    def __init__(self, method, target, version, headers, body, when):
        self.method = method
        self.target = target
        self.path, _, self.query = target.partition("?")
        self.version = version
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.when = when

    def header(self, name):
        """The value of a header sent once; None when absent. Fails when sent twice."""
        values = self.header_all(name)
        if not values:
            return None
        if len(values) > 1:
            raise AssertionError("header %s sent %d times: %r" % (name, len(values), values))
        return values[0]

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%s %s %r>" % (self.method, self.target, self.body[:200])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CloudPeer/1.0"

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def setup(self):
        # seconds a kept-alive connection may idle before the peer closes it (None: forever)
        self.timeout = self.server.peer.idle_timeout
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as e:
                self.server.peer._handshake_failed(e)
                raise
            self.request.settimeout(None)
        super().setup()

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _any(self):
        body = self._read_body()
        peer = self.server.peer
        rec = Recorded(self.command, self.path, self.request_version, list(self.headers.items()), body,
                       time.monotonic())
        answer = peer._record(rec)
        if answer.delay:
            time.sleep(answer.delay)
        try:
            self.send_response(answer.status)
            for k, v in answer.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
            self.wfile.flush()
        except OSError:  # the client gave up (a timeout test)
            self.close_connection = True

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _any


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):  # failed handshakes, dropped clients: recorded, not printed
        pass


class CloudPeer:
    """A recording API server on 127.0.0.1, a free port chosen by the system."""

    def __init__(self, default=None, tls_context=None, name="peer", idle_timeout=None):
        self.name = name
        self.idle_timeout = idle_timeout
        self.default = default or Answer(200, {})
        self.lock = threading.Lock()
        self.requests = []
        self.queue = []
        self.handshake_errors = []
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.peer = self
        self.tls = tls_context is not None
        if self.tls:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True,
                                                         do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="cloud-peer-" + name, daemon=True)

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def reset(self, default=None):
        with self.lock:
            self.requests = []
            self.queue = []
            self.handshake_errors = []
            if default is not None:
                self.default = default

    def play(self, *answers):
        """Answers for the next requests, in order; after them the default answer."""
        with self.lock:
            self.queue.extend(answers)

    def received(self):
        with self.lock:
            return list(self.requests)

    def _record(self, rec):
        with self.lock:
            self.requests.append(rec)
            return self.queue.pop(0) if self.queue else self.default

    def _handshake_failed(self, error):
        with self.lock:
            self.handshake_errors.append(error)


# ----- AWS Signature Version 4 -----

SIGV4_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<akid>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
                        r"(?P<service>[^/,\s]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
                        r"Signature=(?P<signature>[0-9a-f]{64})")


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sigv4_signature(method, path, query, headers, signed, payload, secret, amz_date, region, service):
    """The hex signature AWS would compute. headers: name (lower-case) -> value."""
    canonical_headers = "".join("%s:%s\n" % (h, " ".join(headers[h].strip().split())) for h in signed)
    pairs = sorted(tuple(p.split("=", 1)) if "=" in p else (p, "") for p in query.split("&") if p)
    canonical_query = "&".join("%s=%s" % kv for kv in pairs)
    canonical_request = "\n".join([method, path or "/", canonical_query, canonical_headers, ";".join(signed),
                                   hashlib.sha256(payload).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
    key = _hmac(("AWS4" + secret).encode("utf-8"), amz_date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def check_sigv4(rec, secret):
    """Recomputes the signature of a recorded request from what was received.
    Returns (parsed Authorization fields, expected signature)."""
    auth = rec.header("Authorization")
    m = SIGV4_AUTH.fullmatch(auth or "")
    if not m:
        raise AssertionError("not a SigV4 Authorization header: %r" % auth)
    fields = m.groupdict()
    signed = fields["signed"].split(";")
    headers = {}
    for h in signed:
        v = rec.header(h)
        if v is None:
            raise AssertionError("signed header %s was not sent" % h)
        headers[h] = v
    amz_date = rec.header("X-Amz-Date")
    expected = sigv4_signature(rec.method, rec.path, rec.query, headers, signed, rec.body, secret, amz_date,
                               fields["region"], fields["service"])
    return fields, expected


# ----- multipart/form-data -----

def split_form_data(content_type, body):
    """The fields of a multipart/form-data body: list of (headers dict lower-case, raw bytes).
    Strict: the body must be exactly the parts between the boundary lines."""
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not m or not content_type.lower().startswith("multipart/form-data"):
        raise AssertionError("not multipart/form-data with a boundary: %r" % content_type)
    delim = b"--" + m.group(1).encode("ascii")
    if not body.startswith(delim + b"\r\n"):
        raise AssertionError("body does not start with the boundary: %r" % body[:80])
    if not body.endswith(b"\r\n" + delim + b"--\r\n") and not body.endswith(b"\r\n" + delim + b"--"):
        raise AssertionError("body does not end with the closing boundary: %r" % body[-80:])
    inner = body[len(delim) + 2: body.rindex(b"\r\n" + delim + b"--")]
    parts = []
    for chunk in inner.split(b"\r\n" + delim + b"\r\n"):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError("a part without a blank line: %r" % chunk[:80])
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        parts.append((headers, data))
    return parts


def form_field_name(headers):
    m = re.search(r'name="([^"]*)"', headers.get("content-disposition", ""))
    return m.group(1) if m else None


def parse_mime(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


# ----- a test CA -----

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory):
    """A CA (ca.pem, ca.key) in directory."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Haineko Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)
    return os.path.join(directory, "ca.pem")


def make_server_cert(directory, name, alt_names):
    """A server certificate NAME.pem/NAME.key signed by the CA in directory.
    alt_names: e.g. "IP:127.0.0.1,DNS:localhost"."""
    with open(os.path.join(directory, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                "subjectAltName=%s\n" % alt_names)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=directory)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext", cwd=directory)
    return os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")


def server_tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx
