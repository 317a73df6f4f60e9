"""Bad input, big input, slow clients, keep-alive, signals (SIGHUP reload, SIGTERM) and
broken configuration."""

import http.client
import json
import os
import signal
import socket
import threading
import time
import unittest

from harness import (HOSTNAME, ConfigErrorAssertions, HainekoTestCase, Haineko, Response, free_port, message,
                     parse_raw_response, raw_exchange, run_broken, run_ctl)

MALFORMED = [
    b"",
    b"not json",
    b'{"ehlo": "client.example.net", "mail": ',
    b'{"ehlo": "client.example.net"',
    b"{{{",
    b"[1, 2, 3]",
    b'"just a string"',
    b"42",
    b"null",
    b'{"ehlo": "client.example.net"} trailing garbage',
    b"\x00\x01\x02",
    b"[" * 100000 + b"]" * 100000,
    b'{"a":' * 50000 + b"1" + b"}" * 50000,
]

INVALID_UTF8 = [
    b'{"ehlo":"client.example.net","mail":"s@example.org","rcpt":["r@example.jp"],'
    b'"header":{"subject":"bad \xff\xfe bytes"},"body":"b"}',
    b'{"ehlo":"client.example.net","mail":"s@example.org","rcpt":["r@example.jp"],'
    b'"header":{"subject":"overlong"},"body":"\xc0\xaf"}',
    b'{"ehlo":"client.example.net","mail":"s@example.org","rcpt":["r@example.jp"],'
    b'"header":{"subject":"surrogate \xed\xa0\x80"},"body":"b"}',
    b'{"ehlo":"client.example.net","mail":"s@example.org","rcpt":["r@example.jp"],'
    b'"header":{"subject":"truncated"},"body":"\xe3\x81"}',
    # relaxed JSON must be held to the same rule
    b"{ehlo:'client.example.net',mail:'s@example.org',rcpt:['r@example.jp'],"
    b"header:{subject:'relaxed \xff'},body:'b'}",
    b"{ehlo:'client.example.net',mail:'s@example.org',rcpt:['r@example.jp'],"
    b"header:{subject:'relaxed'},body:bare\xfeword}",
]


def read_response(sock, timeout):
    """Reads one HTTP response off a socket: (Response or None, seconds until closed or answered)."""
    sock.settimeout(timeout)
    start = time.monotonic()
    resp = http.client.HTTPResponse(sock, method="POST")
    try:
        resp.begin()
        body = resp.read()
        return Response(resp.status, resp.headers, body), time.monotonic() - start
    except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
        return None, time.monotonic() - start


def post_large(port, payload, timeout=60):
    """POSTs a large body while reading the answer (which may come before the body is sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(payload))

        def pump():
            try:
                sock.sendall(payload)
            except OSError:
                pass

        t = threading.Thread(target=pump, daemon=True)
        t.start()
        resp, _ = read_response(sock, timeout)
        t.join(timeout)
        return resp
    finally:
        sock.close()


class AliveMixin:
    def assert_alive(self):
        resp = self.server.request("GET", "/", timeout=5)
        self.assertEqual(resp.status, 200, resp)
        resp = self.server.submit(message(rcpt=["alive@example.jp"]), timeout=5)
        self.assertEqual(resp.status, 200, resp)


class Robustness(AliveMixin, HainekoTestCase):

    def test_malformed_json(self):
        for body in MALFORMED:
            with self.subTest(body=body[:40]):
                resp = self.server.submit(body)
                self.assertJsonAnswer(resp)
                self.assertCheck(resp, 400, "HTTP", 421, None, "Malformed JSON string")
        self.assert_alive()

    def test_invalid_utf8(self):
        for body in INVALID_UTF8:
            with self.subTest(body=body[-40:]):
                resp = self.server.submit(body)
                self.assertJsonAnswer(resp)
                self.assertCheck(resp, 400, "HTTP", 421, None, "Malformed JSON string")
        self.assert_alive()

    def _huge_body(self, chunked):
        size = 50 * 1024 * 1024
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=15)
        try:
            head = b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"Content-Length: %d\r\n\r\n" % size
            start = time.monotonic()
            sock.sendall(head)
            stop = threading.Event()

            def pump():
                chunk = b"x" * (256 * 1024)
                framed = (b"%x\r\n" % len(chunk)) + chunk + b"\r\n" if chunked else chunk
                try:
                    for _ in range(size // len(chunk)):
                        if stop.is_set():
                            return
                        sock.sendall(framed)
                    if chunked:
                        sock.sendall(b"0\r\n\r\n")
                except OSError:
                    pass

            t = threading.Thread(target=pump, daemon=True)
            t.start()
            resp, _ = read_response(sock, 20)
            elapsed = time.monotonic() - start
            stop.set()
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        t.join(10)
        return resp, elapsed

    def test_huge_body_content_length(self):
        resp, elapsed = self._huge_body(chunked=False)
        self.assertIsNotNone(resp, "connection closed without an answer")
        self.assertEqual(resp.status, 413, resp)
        self.assertJsonAnswer(resp)
        self.assertSessionShape(resp.json, started=False)
        self.assertEqual(resp.json["response"][0]["error"], 1)
        self.assertLess(elapsed, 5.0, "413 took %.1fs" % elapsed)
        self.assert_alive()

    def test_huge_body_chunked(self):
        resp, elapsed = self._huge_body(chunked=True)
        self.assertIsNotNone(resp, "connection closed without an answer")
        self.assertEqual(resp.status, 413, resp)
        self.assertJsonAnswer(resp)
        self.assertLess(elapsed, 10.0, "413 took %.1fs" % elapsed)
        self.assert_alive()

    def test_body_within_max_message_size_in_escaped_json(self):
        # 4,000,000 bytes of UTF-8 (under the default max_message_size of 4,194,304), sent the way
        # json.dumps writes it by default: every "é" as \\u00e9, about 12 MB of request
        text = "é" * 2000000
        payload = json.dumps(message(rcpt=["escaped@example.jp"], body=text)).encode()
        self.assertGreater(len(payload), 11000000)
        resp = post_large(self.server.port, payload)
        self.assertIsNotNone(resp, "closed without an answer")
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        (path, raw, msg), = self.server.messages_for(resp.json["queueid"])
        self.assertEqual(msg.get_content().rstrip("\r\n"), text)

    def test_huge_headers(self):
        cases = {
            "one big header": b"X-Big: " + b"a" * (100 * 1024) + b"\r\n",
            "many headers": b"".join(b"X-H%05d: %s\r\n" % (i, b"b" * 40) for i in range(2000)),
            "long target": None,
        }
        for name, extra in cases.items():
            with self.subTest(case=name):
                if extra is None:
                    req = b"GET /" + b"p" * (100 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
                else:
                    req = b"GET / HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"
                sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
                try:
                    sock.sendall(req)
                    resp, elapsed = read_response(sock, 10)
                finally:
                    sock.close()
                self.assertIsNotNone(resp, "closed without an answer")
                self.assertIn(resp.status, (414, 431) if extra is None else (431,), resp)
                self.assertJsonAnswer(resp)
                self.assertEqual(resp.json["response"][0]["error"], 1)
                self.assertLess(elapsed, 3)
        self.assert_alive()

    def test_keep_alive(self):
        conn = self.server.connection()
        try:
            ports, ids = set(), set()
            first_sock = None
            for i in range(5):
                resp = self.server.request("POST", "/submit", conn=conn,
                                           body=json.dumps(message(rcpt=["ka%d@example.jp" % i])),
                                           headers={"Content-Type": "application/json"})
                self.assertJsonAnswer(resp)
                self.assertEqual(resp.status, 200, resp)
                ports.add(resp.json["remoteport"])
                ids.add(resp.json["queueid"])
                if first_sock is None:
                    first_sock = conn.sock
                self.assertIs(conn.sock, first_sock, "the connection was not kept alive")
            for method, path, status in (("GET", "/", 200), ("GET", "/missing", 404),
                                         ("POST", "/submit", 400), ("GET", "/conf", 200)):
                resp = self.server.request(method, path, conn=conn, body=b"{" if method == "POST" else None)
                self.assertEqual(resp.status, status, resp)
                self.assertIs(conn.sock, first_sock, "closed after %s %s" % (method, path))
                if resp.json and "remoteport" in resp.json:
                    ports.add(resp.json["remoteport"])
            self.assertEqual(ports, {first_sock.getsockname()[1]})
            self.assertEqual(len(ids), 5)
        finally:
            conn.close()

    def test_pipelined_requests(self):
        one = json.dumps(message(rcpt=["pipe@example.jp"])).encode()
        req = (b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(one)) + one
        last = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        data = raw_exchange("127.0.0.1", self.server.port, req + req + last, timeout=10)
        statuses, queueids = [], []
        while data:
            status, headers, body = parse_raw_response(data)
            length = int(headers["content-length"])
            data = data.partition(b"\r\n\r\n")[2][length:]
            statuses.append(status)
            j = json.loads(body)
            if "queueid" in j:
                queueids.append(j["queueid"])
        self.assertEqual(statuses, [200, 200, 200])
        self.assertEqual(len(set(queueids)), 2)

    def test_garbage_request_line(self):
        for raw in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 50,
                    b"HELLO WORLD\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n"):
            with self.subTest(raw=raw[:12]):
                sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
                try:
                    sock.sendall(raw)
                    resp, elapsed = read_response(sock, 5)
                finally:
                    sock.close()
                if resp is not None:
                    self.assertEqual(resp.status // 100, 4, resp)
                    self.assertJsonAnswer(resp)
        self.assert_alive()


class Timeouts(AliveMixin, HainekoTestCase):
    """smtpd.read_timeout and idle_timeout of 2 s."""
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "read_timeout": 2, "idle_timeout": 2}}}

    def test_slow_client_is_cut_off_while_others_are_served(self):
        request = json.dumps(message(rcpt=["slow@example.jp"])).encode()
        raw = (b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(request)) + request
        slow = socket.create_connection(("127.0.0.1", self.server.port), timeout=15)
        stop = threading.Event()
        sent = []

        def dribble():
            for i in range(len(raw)):
                if stop.is_set():
                    return
                try:
                    slow.send(raw[i:i + 1])
                    sent.append(i)
                except OSError:
                    return
                stop.wait(1.0)

        start = time.monotonic()
        t = threading.Thread(target=dribble, daemon=True)
        t.start()
        try:
            # meanwhile, another client is answered promptly, again and again
            latencies = []
            while time.monotonic() - start < 1.8:
                t0 = time.monotonic()
                resp = self.server.submit(message(rcpt=["fast@example.jp"]), timeout=5)
                latencies.append(time.monotonic() - t0)
                self.assertEqual(resp.status, 200, resp)
                time.sleep(0.2)
            self.assertGreaterEqual(len(latencies), 3)
            self.assertLess(max(latencies), 1.0, latencies)
            # the slow client: answered (408) and/or closed about read_timeout after its first byte
            slow.settimeout(8)
            data = b""
            try:
                while True:
                    b = slow.recv(65536)
                    if not b:
                        break
                    data += b
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail("the slow client was not cut off within %.1fs" % (time.monotonic() - start))
            closed_after = time.monotonic() - start
        finally:
            stop.set()
            t.join(5)
            slow.close()
        self.assertGreater(closed_after, 1.5, "cut off before the read timeout")
        self.assertLess(closed_after, 6.0, "cut off %.1fs after the first byte" % closed_after)
        self.assertLess(len(sent), len(raw), "the whole request got through")
        if data:
            status, headers, body = parse_raw_response(data)
            self.assertEqual(status, 408, data[:200])
            self.assertTrue(headers.get("content-type", "").startswith("application/json"))
            json.loads(body)
        self.assert_alive()

    def test_silent_connection_closed_after_idle_timeout(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        start = time.monotonic()
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = b""
        finally:
            sock.close()
        elapsed = time.monotonic() - start
        self.assertEqual(data, b"")
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 6.0)

    def test_idle_keepalive_connection_closed_after_idle_timeout(self):
        conn = self.server.connection()
        try:
            self.assertEqual(self.server.request("GET", "/", conn=conn).status, 200)
            sock = conn.sock
            start = time.monotonic()
            sock.settimeout(8)
            try:
                data = sock.recv(1024)
            except ConnectionResetError:
                data = b""
            elapsed = time.monotonic() - start
        finally:
            conn.close()
        self.assertEqual(data, b"")
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 6.0)


class Signals(HainekoTestCase):
    start_server = False

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        return predicate()

    def test_sighup_reloads_recipients(self):
        srv = self.start_own_server(etc={"recipients": {"domainpart": ["example.jp"]}})
        self.assertEqual(srv.submit(message(rcpt=["a@example.net"])).status, 400)
        self.assertEqual(srv.submit(message(rcpt=["a@example.jp"])).status, 200)
        pid = srv.proc.pid
        srv.write_etc("recipients", {"domainpart": ["example.net"]})
        srv.signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: srv.submit(message(rcpt=["a@example.net"])).status == 200),
                        "the new recipients file did not apply after SIGHUP")
        resp = srv.submit(message(rcpt=["a@example.jp"]))
        self.assertCheck(resp, 400, "RCPT", 553, "5.7.1", "Recipient address is not permitted", rcpt="a@example.jp")
        self.assertTrue(srv.alive())
        self.assertEqual(srv.proc.pid, pid)

    def test_sighup_reloads_haineko_cf(self):
        srv = self.start_own_server()
        srv.write_etc("haineko.cf", {"smtpd": {"hostname": HOSTNAME, "max_rcpts_per_message": 1}})
        srv.signal(signal.SIGHUP)
        two = message(rcpt=["a@example.jp", "b@example.jp"])
        self.assertTrue(self.wait_for(lambda: srv.submit(two).status == 403),
                        "max_rcpts_per_message did not apply after SIGHUP")

    def test_broken_yaml_on_sighup_keeps_old_config(self):
        srv = self.start_own_server(etc={"recipients": {"domainpart": ["example.jp"]}})
        for name, broken in (("recipients", "domainpart: [example.jp, example.net\nrecipients: {{{\n"),
                             ("haineko.cf", "smtpd:\n  hostname: [unclosed\n  max_rcpts_per_message: : :\n"),
                             ("mailertable", "default:\n  mailer: File\n  port: not-a-port\n")):
            with self.subTest(file=name):
                with open(os.path.join(srv.etc, name), "rb") as f:
                    good = f.read()
                srv.write_etc(name, broken)
                srv.signal(signal.SIGHUP)
                time.sleep(0.7)
                self.assertTrue(srv.alive(), "the server died on a broken %s" % name)
                self.assertEqual(srv.request("GET", "/").status, 200)
                resp = srv.submit(message(rcpt=["ok@example.jp"]))
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.json["response"][0]["mailer"], "File")
                self.assertEqual(srv.submit(message(rcpt=["no@example.net"])).status, 400)
                self.assertIn(name, srv.stderr_text())
                srv.write_etc(name, good)
        # a good file after a broken one applies again
        srv.write_etc("recipients", {"domainpart": ["example.net"]})
        srv.signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: srv.submit(message(rcpt=["a@example.net"])).status == 200))

    def test_sigterm_answers_request_in_flight(self):
        srv = self.start_own_server()
        body = json.dumps(message(rcpt=["inflight@example.jp"], header={"subject": "in flight"})).encode()
        head = (b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
        try:
            sock.sendall(head + body[:20])
            time.sleep(0.3)
            srv.signal(signal.SIGTERM)
            time.sleep(0.7)
            self.assertTrue(srv.alive(), "the server stopped with a request in flight")
            sock.sendall(body[20:])
            resp, _ = read_response(sock, 10)
        finally:
            sock.close()
        self.assertIsNotNone(resp, "the request in flight was not answered")
        self.assertEqual(resp.status, 200, resp)
        self.assertJsonAnswer(resp)
        self.assertEqual(len(srv.messages_for(resp.json["queueid"])), 1)
        self.assertEqual(srv.proc.wait(10), 0)

    def test_sigterm_with_idle_keepalive_connection(self):
        srv = self.start_own_server()
        conn = srv.connection()
        try:
            self.assertEqual(srv.request("GET", "/", conn=conn).status, 200)
            start = time.monotonic()
            srv.signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(10), 0)
            self.assertLess(time.monotonic() - start, 5.0)
        finally:
            conn.close()

    def test_sigint_stops_cleanly(self):
        srv = self.start_own_server()
        srv.signal(signal.SIGINT)
        self.assertEqual(srv.proc.wait(10), 0)


class StartupErrors(ConfigErrorAssertions, unittest.TestCase):
    def run_broken(self, files, args=()):
        srv = Haineko(etc=files)
        self.addCleanup(srv.cleanup)
        proc = run_broken(self, "run", "-o", "127.0.0.1", "-p", str(free_port()), *args,
                          env={"HAINEKO_ROOT": srv.root})
        return srv, proc

    def test_yaml_syntax_error_in_haineko_cf(self):
        srv, proc = self.run_broken({"haineko.cf": "smtpd:\n  hostname: 'x.example'\n  max_workers: [1, 2\n"})
        self.assert_one_line_error(proc, os.path.join(srv.etc, "haineko.cf"))

    def test_bad_network_in_relayhosts(self):
        srv, proc = self.run_broken({"relayhosts": "open-relay: 0\nrelayhosts:\n  - 127.0.0.1\n  - not-an-ip\n"})
        self.assert_one_line_error(proc, os.path.join(srv.etc, "relayhosts"), 4)

    def test_bad_port_in_mailertable(self):
        srv, proc = self.run_broken({"mailertable": "default:\n  mailer: ESMTP\n  host: 127.0.0.1\n  port: 99999\n"})
        self.assert_one_line_error(proc, os.path.join(srv.etc, "mailertable"), 4)

    def test_yaml_syntax_error_in_recipients(self):
        srv, proc = self.run_broken({"recipients": "open-relay: 0\ndomainpart: [example.jp, 'example.com\n"})
        self.assert_one_line_error(proc, os.path.join(srv.etc, "recipients"))

    def test_conf_given_with_C(self):
        srv = Haineko()
        self.addCleanup(srv.cleanup)
        path = os.path.join(srv.root, "other.cf")
        with open(path, "w") as f:
            f.write("smtpd: [this is not a mapping\n")
        proc = run_ctl("run", "-o", "127.0.0.1", "-p", str(free_port()), "-C", path,
                       env={"HAINEKO_ROOT": srv.root}, timeout=10)
        self.assert_one_line_error(proc, path)

    def test_bad_flags(self):
        for args in (("run", "--no-such-flag"), ("run", "-p", "70000"), ("run", "-p", "port"),
                     ("run", "-p"), ("run", "extra-positional")):
            with self.subTest(args=args):
                try:
                    proc = run_ctl(*args, timeout=10)
                except Exception as e:
                    self.fail("%s did not exit: %s" % (args, e))
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertTrue(proc.stderr.strip())


if __name__ == "__main__":
    unittest.main()
