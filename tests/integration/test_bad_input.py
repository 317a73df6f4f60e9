"""Bad input: slow clients get 408 with a JSON body; non-ASCII or overlong addresses in
From and Reply-To, envelope addresses past RFC 5321's limits or with < > in a domain
literal are refused; invalid UTF-8 in User-Agent and Referer never reaches an answer or
a message; nan and inf in config files stay JSON-safe in /conf; escaped raw bytes in a
quoted local part obey the ASCII rule; max_connections sheds the extra connections with
503."""

import json
import select
import socket
import time
import unittest
import urllib.parse

from harness import (HOSTNAME, HainekoTestCase, SESSION_KEYS, header_lines, message, parse_raw_response,
                     raw_exchange, strict_json)


def read_until_closed(sock, timeout):
    """Everything the server sends until it closes (or timeout); (bytes, closed?)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


class SlowClients(HainekoTestCase):
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "read_timeout": 2, "idle_timeout": 20}}}

    def dribble(self, first, rest, interval=0.4):
        """Sends first at once, then rest a byte per interval until the server answers
        or closes; returns (raw answer, seconds from the first byte to the close)."""
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            start = time.monotonic()
            sock.sendall(first)
            sock.settimeout(interval)
            data = b""
            for i in range(len(rest)):
                try:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    break
                except socket.timeout:
                    pass
                try:
                    sock.sendall(rest[i:i + 1])
                except OSError:
                    break
            more, closed = read_until_closed(sock, 8)
            self.assertTrue(closed, "the connection stayed open after the read timeout")
            return data + more, time.monotonic() - start
        finally:
            sock.close()

    def assert408(self, raw, elapsed):
        self.assertTrue(raw, "closed without an answer")
        status, headers, body = parse_raw_response(raw)
        self.assertEqual(status, 408, raw[:300])
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        self.assertEqual(headers.get("x-content-type-options"), "nosniff", headers)
        j = strict_json(body)
        self.assertTrue(SESSION_KEYS.issubset(j), "not the session shape: %r" % j)
        self.assertEqual(len(j["response"]), 1, j)
        self.assertEqual(j["response"][0]["error"], 1, j)
        self.assertEqual(j["remoteaddr"], "127.0.0.1", j)
        self.assertGreater(elapsed, 1.5, "cut off before read_timeout")
        self.assertLess(elapsed, 7.0, "cut off %.1f s after the first byte" % elapsed)

    def test_slow_headers(self):
        rest = b"Host: 127.0.0.1\r\nUser-Agent: slow-headers/1.0\r\nContent-Type: application/json\r\n" * 3
        raw, elapsed = self.dribble(b"POST /submit HTTP/1.1\r\n", rest)
        self.assert408(raw, elapsed)

    def test_slow_body(self):
        body = json.dumps(message(rcpt=["slow-body@example.jp"])).encode()
        head = (b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-body/1.0\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        raw, elapsed = self.dribble(head + body[:5], body[5:])
        self.assert408(raw, elapsed)
        status, _headers, body_json = parse_raw_response(raw)
        self.assertEqual(strict_json(body_json)["useragent"], "slow-body/1.0")
        self.assertEqual(self.server.messages_to("slow-body@example.jp"), [])

    def test_prompt_client_is_served(self):
        resp = self.server.submit(message(rcpt=["prompt@example.jp"]))
        self.assertEqual(resp.status, 200, resp)


class Addresses(HainekoTestCase):
    def assertNothingWritten(self, before):
        self.assertEqual(self.server.eml_files(), before, "a refused submission was written")

    def test_non_ascii_address_in_from_or_replyto(self):
        for field in ("from", "replyto"):
            for value in ("ねこ <neko@例え.jp>", "Neko <ねこ@example.jp>", "nekö@example.jp"):
                with self.subTest(field=field, value=value):
                    before = self.server.eml_files()
                    resp = self.server.submit(message(header={field: value}))
                    self.assertCheck(resp, 400, "MAIL", 553, "5.6.7", "non-ASCII address is not permitted")
                    self.assertNothingWritten(before)

    def test_non_ascii_display_name_is_fine(self):
        resp = self.server.submit(message(header={"from": "ねこ <neko@example.jp>", "replyto": "くろ <kuro@example.jp>"}))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)

    def test_overlong_address_in_from(self):
        long_address = "a" * 1500 + "@example.org"
        for field, value in (("from", long_address), ("from", "Neko <%s>" % long_address),
                             ("replyto", long_address)):
            with self.subTest(field=field, value=value[:20]):
                before = self.server.eml_files()
                raw = raw_exchange("127.0.0.1", self.server.port, self.raw_post(message(header={field: value})))
                status, _headers, body = parse_raw_response(raw)
                self.assertEqual(status, 400, raw[:300])
                j = strict_json(body)
                self.assertEqual(j["response"][0]["error"], 1, j)
                self.assertEqual(j["response"][0]["command"], "MAIL", j)
                for line in header_lines(raw):
                    self.assertLessEqual(len(line), 998, "an answer header line of %d octets" % len(line))
                self.assertNothingWritten(before)

    def test_long_display_name_is_folded_not_refused(self):
        # the address must stay readable (only the display name is encoded) and every
        # header line within 998 octets
        for name in ("Neko " * 300, "N" * 1500):
            with self.subTest(name=name[:12]):
                resp = self.server.submit(message(rcpt=["longname@example.jp"],
                                                  header={"from": name.strip() + " <neko@example.org>"}))
                self.assertEqual(resp.status, 200, resp)
                (path, raw, msg), = self.server.messages_for(resp.json["queueid"])
                for line in header_lines(raw):
                    self.assertLessEqual(len(line), 998, "a header line of %d octets" % len(line))
                from_field = raw[raw.index(b"\nFrom:"):].split(b"\nTo:")[0].split(b"\nSubject:")[0]
                self.assertIn(b"<neko@example.org>", from_field, "the address is hidden in encoded words")
                self.assertEqual(msg["From"].addresses[0].addr_spec, "neko@example.org")

    def raw_post(self, payload):
        body = json.dumps(payload).encode()
        return (b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)) + body

    def assertRcptRefused(self, rcpt):
        before = self.server.eml_files()
        resp = self.server.submit(message(rcpt=[rcpt]))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 400, resp)
        entry = resp.json["response"][0]
        self.assertEqual(entry["rcpt"], rcpt, entry)
        self.assertEqual((entry["code"], entry["dsn"], entry["error"]), (553, "5.1.5", 1), entry)
        self.assertEqual(entry["message"], ["Recipient address is invalid"], entry)
        self.assertNothingWritten(before)

    def assertMailRefused(self, mail):
        before = self.server.eml_files()
        resp = self.server.submit(message(mail=mail))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 400, resp)
        entry = resp.json["response"][0]
        self.assertEqual((entry["command"], entry["code"], entry["error"]), ("MAIL", 553, 1), entry)
        self.assertNothingWritten(before)

    def test_rcpt_with_a_10000_character_local_part(self):
        self.assertRcptRefused("a" * 10000 + "@example.jp")

    def test_length_limits(self):
        label = "d" * 60
        domain_255 = ".".join([label] * 4) + "." + "e" * 10 + ".example.jp"  # 4*61 + 11 + 11 = 266
        cases = {
            "local part of 65": "l" * 65 + "@example.jp",
            "domain over 255": "neko@" + domain_255,
            "address of 255": "l" * 64 + "@" + ".".join(["d" * 62] * 2) + "." + "e" * 53 + ".example.jp",
        }
        self.assertGreater(len(domain_255), 255)
        self.assertEqual(len(cases["address of 255"]), 255)
        for name, address in cases.items():
            with self.subTest(limit=name, field="rcpt"):
                self.assertRcptRefused(address)
            with self.subTest(limit=name, field="mail"):
                self.assertMailRefused(address)

    def test_at_the_length_limits(self):
        address = "l" * 64 + "@" + ".".join(["d" * 62] * 2) + "." + "e" * 52 + ".example.jp"
        self.assertEqual(len(address), 254)
        resp = self.server.submit(message(mail=address, rcpt=["limits@example.jp"]))
        self.assertEqual(resp.status, 200, "an address of 254 octets is within the limits: %r" % resp)
        self.assertEqual(resp.json["response"][0]["error"], 0, resp.json)

    def test_angle_brackets_in_a_domain_literal(self):
        for address in ("a@[x>NOTIFY=NEVER]", "a@[127.0.0.1> NOTIFY=NEVER]", "a@[<127.0.0.1]"):
            with self.subTest(field="rcpt", address=address):
                self.assertRcptRefused(address)
            with self.subTest(field="mail", address=address):
                self.assertMailRefused(address)


class InvalidUtf8InClientHeaders(HainekoTestCase):
    def test_user_agent_and_referer_with_invalid_bytes(self):
        body = json.dumps(message(rcpt=["bytes@example.jp"])).encode()
        request = (b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                   b"User-Agent: neko-agent/\xff\xfe\xc3(1.0\r\nReferer: http://example.jp/\xe3\x81\xff/page\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
        raw = raw_exchange("127.0.0.1", self.server.port, request)
        status, _headers, answer = parse_raw_response(raw)
        self.assertEqual(status, 200, raw[:300])
        try:
            j = strict_json(answer)
        except (UnicodeDecodeError, ValueError) as e:
            self.fail("the answer is not valid UTF-8 JSON: %s: %r" % (e, answer[:300]))
        self.assertTrue(j["useragent"].startswith("neko-agent/"), j["useragent"])
        self.assertTrue(j["referer"].startswith("http://example.jp/"), j["referer"])
        (path, raw_msg, msg), = self.server.messages_for(j["queueid"])
        head = b"\r\n".join(header_lines(raw_msg))
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail("the message's header is not valid UTF-8: %s" % e)
        self.assertTrue(str(msg["X-Mailer"]).startswith("neko-agent/"), msg["X-Mailer"])
        self.assertTrue(str(msg["X-HTTP-Referer"]).startswith("http://example.jp/"), msg["X-HTTP-Referer"])

    def test_404_answer_with_invalid_bytes_is_utf8(self):
        raw = raw_exchange("127.0.0.1", self.server.port,
                           b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                           b"User-Agent: \xc0\xaf\xed\xa0\x80\r\nReferer: \xf8\x88\x80\x80\x80\r\n\r\n")
        status, _headers, answer = parse_raw_response(raw)
        self.assertEqual(status, 404, raw[:300])
        strict_json(answer)


class NanInConfig(HainekoTestCase):
    etc = {
        "haineko.cf": "smtpd:\n  hostname: %s\n  max_message_size: nan\n  note: .inf\n  other: -.inf\n" % HOSTNAME,
        "mailertable": "default:\n  mailer: File\n  path: outbox\n  note: nan\n  weight: .nan\n"
                       "  huge: 1e999\n  inf: inf\n",
    }

    def test_conf_stays_valid_json(self):
        resp = self.server.request("GET", "/conf")
        self.assertEqual(resp.status, 200, resp)
        try:
            j = strict_json(resp.body)
        except ValueError as e:
            self.fail("/conf is not valid JSON: %s: %r" % (e, resp.body[:500]))
        data = j["mailertable"]["data"]["default"]
        for key in ("note", "weight", "huge", "inf"):
            self.assertIsInstance(data[key], str, "%s: %r" % (key, data))

    def test_not_a_number_setting_answers_500(self):
        resp = self.server.submit(message())
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 500, resp)
        self.assertEqual(resp.json["response"][0]["message"], ["does not look like number"], resp.json)


class EscapedBytesInDevelGet(HainekoTestCase):
    args = ("-d",)

    def get_submit(self, mail):
        query = "ehlo=client.example.net&mail=%s&rcpt=neko%%40example.jp&header.subject=escaped&body=b" % mail
        return self.server.request("GET", "/submit?" + query)

    def test_backslash_escaped_raw_byte_in_a_quoted_local_part(self):
        for mail in ("%22a%5C%E9%22@example.jp", "%22a%5C%C3%A9%22@example.jp", "%22a%5C%FF%22@example.jp"):
            with self.subTest(mail=mail):
                before = self.server.eml_files()
                resp = self.get_submit(mail)
                self.assertJsonAnswer(resp)
                strict_json(resp.body)
                self.assertEqual(resp.status, 400, resp)
                entry = resp.json["response"][0]
                self.assertEqual((entry["command"], entry["code"], entry["error"]), ("MAIL", 553, 1), entry)
                self.assertIn(entry["dsn"], ("5.6.7", "5.5.4"), entry)
                self.assertEqual(self.server.eml_files(), before)

    def test_control_an_escaped_ascii_character_is_fine(self):
        resp = self.get_submit(urllib.parse.quote('"a\\b"@example.jp'))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["addresser"], '"a\\b"@example.jp', resp.json)


class MaxConnections(HainekoTestCase):
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_connections": 5, "idle_timeout": 30}}}

    def test_extra_connections_get_503_and_are_closed(self):
        socks = []
        try:
            for _ in range(10):
                socks.append(socket.create_connection(("127.0.0.1", self.server.port), timeout=5))
                time.sleep(0.05)  # in order, so that the first five are the ones kept
            time.sleep(1.0)  # time for the server to answer and close the extra ones
            readable = set(select.select(socks, [], [], 0)[0])
            kept = [(s, b"", False) for s in socks if s not in readable]
            shed = [(s,) + read_until_closed(s, 5) for s in socks if s in readable]
            self.assertEqual(len(kept), 5, "with max_connections 5, five idle connections stay open")
            self.assertEqual(len(shed), 5)
            for _s, data, closed in shed:
                self.assertTrue(closed, "a shed connection must be closed")
                status, headers, body = parse_raw_response(data)
                self.assertEqual(status, 503, data[:300])
                self.assertTrue(headers.get("retry-after"), headers)
                self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
                j = strict_json(body)
                self.assertTrue(SESSION_KEYS.issubset(j), j)
                self.assertEqual(j["response"][0]["error"], 1, j)
            # the kept ones are served
            s = kept[0][0]
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data, _closed = read_until_closed(s, 5)
            self.assertEqual(parse_raw_response(data)[0], 200, data[:300])
        finally:
            for s in socks:
                s.close()
        deadline = time.monotonic() + 5
        while True:
            resp = self.server.submit(message(rcpt=["after-shedding@example.jp"]), timeout=10)
            if resp.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(resp.status, 200, "no room again after the connections closed: %r" % resp)


if __name__ == "__main__":
    unittest.main()
