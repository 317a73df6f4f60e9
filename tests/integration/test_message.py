"""The message the File mailer writes, parsed back with Python's email package:
charsets, headers, line limits, one file per recipient, header injection, loops."""

import email.utils
import re
import time
import unittest

from harness import HOSTNAME, HainekoTestCase, header_lines, message

USER_AGENT = "haineko-it-message/2.0 (integration)"


def body_text(msg):
    """The decoded body with CRLF turned into LF and the one final line break removed."""
    text = msg.get_content().replace("\r\n", "\n")
    return text[:-1] if text.endswith("\n") else text


def field_lines(raw, name):
    """The physical lines (first and continuations) of every field called name."""
    out, current = [], None
    for line in header_lines(raw):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        current = None
        if line.split(b":", 1)[0].strip().lower() == name.lower().encode():
            current = [line]
            out.append(current)
    return out


class Message(HainekoTestCase):
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_message_size": 0}}}

    def relay(self, payload, expect_files=None):
        resp = self.server.submit(payload, headers={"User-Agent": USER_AGENT})
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        files = self.server.messages_for(resp.json["queueid"])
        n = len(payload.get("rcpt") or []) if expect_files is None else expect_files
        self.assertEqual(len(files), n, files)
        return resp, files

    def assert_well_formed(self, raw):
        self.assertNotIn(b"\n", raw.replace(b"\r\n", b""), "bare LF in the message")
        self.assertNotIn(b"\r", raw.replace(b"\r\n", b""), "bare CR in the message")
        self.assertTrue(raw.endswith(b"\r\n"), raw[-20:])
        self.assertIn(b"\r\n\r\n", raw)
        for line in raw.split(b"\r\n"):
            self.assertLessEqual(len(line), 998, line[:80])

    # ----- charsets -----
    def roundtrip(self, charset, subject, display, body, content_charset, encodings, ascii_only):
        m = message(rcpt=["charset@example.jp"],
                    header={"subject": subject, "from": "%s <sender@example.org>" % display, "charset": charset},
                    body=body)
        resp, files = self.relay(m)
        path, raw, msg = files[0]
        self.assert_well_formed(raw)
        self.assertEqual(msg["Subject"], subject)
        self.assertEqual(msg["From"].addresses[0].display_name, display)
        self.assertEqual(msg["From"].addresses[0].addr_spec, "sender@example.org")
        self.assertEqual(body_text(msg), body)
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual((msg.get_content_charset() or "").lower(), content_charset.lower())
        self.assertIn(msg["Content-Transfer-Encoding"].lower(), encodings)
        if ascii_only:
            self.assertTrue(all(b < 0x80 for b in raw), "8-bit bytes in a %s message" % charset)
        # RFC 2047 covers the display name only: the address stays readable
        from_line = b" ".join(l.strip() for l in field_lines(raw, "From")[0])
        self.assertIn(b"<sender@example.org>", from_line)
        return raw, msg

    def test_utf8(self):
        self.roundtrip("UTF-8", "ねこの件名 — テスト ✓", "はいねこ", "本文です。\nSecond line: ünïcödé 🐱\n\nEnd.",
                       "utf-8", ("8bit", "base64", "quoted-printable"), False)

    def test_iso_2022_jp(self):
        raw, msg = self.roundtrip("ISO-2022-JP", "日本語の件名です", "山田 太郎",
                                  "こんにちは、世界。\n二行目の本文です。\nASCII line",
                                  "iso-2022-jp", ("7bit",), True)
        self.assertIn(b"\x1b$B", raw, "no JIS escape sequence in an ISO-2022-JP message")

    def test_iso_2022_jp_lower_case_name(self):
        self.roundtrip("iso-2022-jp", "件名", "差出人", "本文", "iso-2022-jp", ("7bit",), True)

    def test_iso_8859_1(self):
        self.roundtrip("ISO-8859-1", "Grüße, café", "Café Owner", "Grüße, café\nÀ bientôt — no, à bientôt!".replace("—", "-"),
                       "iso-8859-1", ("quoted-printable",), True)

    def test_us_ascii(self):
        self.roundtrip("US-ASCII", "Plain ASCII subject", "Plain Sender", "Plain body.\nSecond line.",
                       "us-ascii", ("7bit",), True)

    def test_unknown_charset_is_utf8(self):
        self.roundtrip("KOI8-R", "Привет ねこ", "Отправитель", "Тело письма", "utf-8",
                       ("8bit", "base64", "quoted-printable"), False)

    def test_text_the_charset_cannot_hold(self):
        # an emoji has no ISO-2022-JP form: whatever the server picks, nothing may be lost
        m = message(rcpt=["emoji@example.jp"], header={"subject": "ねこ 🐱", "charset": "ISO-2022-JP"},
                    body="ねこ 🐱")
        resp, files = self.relay(m)
        path, raw, msg = files[0]
        self.assert_well_formed(raw)
        self.assertEqual(msg["Subject"], "ねこ 🐱")
        self.assertEqual(body_text(msg), "ねこ 🐱")

    # ----- recipients -----
    def test_one_file_per_recipient(self):
        rcpts = ["first@example.jp", "second@example.com", "third@example.jp"]
        resp, files = self.relay(message(rcpt=rcpts, header={"subject": "three copies"}))
        self.assertEqual(sorted(str(f[2]["To"]) for f in files), sorted(rcpts))
        for path, raw, msg in files:
            self.assertEqual(len(msg.get_all("To")), 1)
            self.assertEqual(msg["Subject"], "three copies")
            self.assertEqual(body_text(msg), "Hello from the integration tests.")
        self.assertEqual(len({f[0] for f in files}), 3)

    def test_same_recipient_twice_in_two_submissions(self):
        a, fa = self.relay(message(rcpt=["dup@example.jp"], header={"subject": "one"}))
        b, fb = self.relay(message(rcpt=["dup@example.jp"], header={"subject": "two"}))
        self.assertNotEqual(fa[0][0], fb[0][0])
        self.assertEqual(fa[0][2]["Subject"], "one")
        self.assertEqual(fb[0][2]["Subject"], "two")

    # ----- line limits and folding -----
    def test_long_lines(self):
        long_ascii = "".join(chr(33 + (i % 90)) for i in range(5000))
        long_utf8 = "ねこ" * 800
        body = "short\n" + long_ascii + "\n" + long_utf8 + "\nend"
        resp, files = self.relay(message(rcpt=["long@example.jp"], body=body))
        path, raw, msg = files[0]
        self.assert_well_formed(raw)
        self.assertEqual(body_text(msg), body)

    def test_long_ascii_subject_with_spaces(self):
        subject = " ".join("word%03d" % i for i in range(200))
        resp, files = self.relay(message(rcpt=["subject@example.jp"], header={"subject": subject}))
        path, raw, msg = files[0]
        self.assert_well_formed(raw)
        self.assertEqual(msg["Subject"], subject)
        for line in field_lines(raw, "Subject")[0]:
            self.assertLessEqual(len(line), 78, line)

    def test_long_ascii_subject_without_spaces(self):
        subject = "x" * 1500
        resp, files = self.relay(message(rcpt=["subject@example.jp"], header={"subject": subject}))
        path, raw, msg = files[0]
        self.assert_well_formed(raw)
        self.assertEqual(msg["Subject"], subject)

    def test_long_japanese_subject_folds(self):
        subject = "日本語の長い件名がここに続きます、" * 8
        for charset in ("UTF-8", "ISO-2022-JP"):
            with self.subTest(charset=charset):
                resp, files = self.relay(message(rcpt=["fold@example.jp"],
                                                 header={"subject": subject, "charset": charset}))
                path, raw, msg = files[0]
                self.assert_well_formed(raw)
                self.assertEqual(msg["Subject"], subject)
                lines = field_lines(raw, "Subject")[0]
                self.assertGreater(len(lines), 1, "a long subject is not folded")
                for line in lines:
                    self.assertLessEqual(len(line), 78, line)

    # ----- headers -----
    def test_added_headers(self):
        before = time.time()
        resp, files = self.relay(message(rcpt=["headers@example.jp"],
                                         header={"replyto": "list@example.org", "subject": "headers"}))
        qid = resp.json["queueid"]
        path, raw, msg = files[0]
        self.assert_well_formed(raw)
        received = msg.get_all("Received")
        self.assertEqual(len(received), 1)
        self.assertRegex(" ".join(str(received[0]).split()),
                         r"^from client\.example\.net \(\[127\.0\.0\.1\]\) by %s with HTTP id %s; .+"
                         % (re.escape(HOSTNAME), qid))
        date = email.utils.parsedate_to_datetime(str(msg["Date"]))
        self.assertIsNotNone(date.tzinfo)
        self.assertLess(abs(date.timestamp() - before), 120)
        self.assertRegex(str(msg["Message-Id"]).strip(), r"^<%s\.\d+\.\d+\.\d{3}@%s>$" % (qid, re.escape(HOSTNAME)))
        self.assertEqual(str(msg["MIME-Version"]).strip(), "1.0")
        self.assertEqual(str(msg["X-Mailer"]), USER_AGENT)
        self.assertIn(HOSTNAME, str(msg["X-Haineko-Loop"]))
        self.assertEqual(str(msg["X-Originating-IP"]), "127.0.0.1")
        self.assertEqual(str(msg["To"]), "headers@example.jp")
        self.assertEqual(msg["Reply-To"].addresses[0].addr_spec, "list@example.org")
        self.assertIn("X-SMTP-Engine", msg)
        for name in ("Date", "Message-Id", "MIME-Version", "From", "To", "Subject", "Content-Type",
                     "X-Haineko-Loop", "X-Originating-IP", "X-Mailer"):
            self.assertEqual(len(msg.get_all(name) or []), 1, name)

    def test_display_names(self):
        cases = [
            ("Neko, Haineko <dn1@example.org>", "Neko, Haineko", "dn1@example.org"),
            ('"Quoted Name" <dn2@example.org>', "Quoted Name", "dn2@example.org"),
            ('"ねこ" <dn3@example.org>', "ねこ", "dn3@example.org"),
            ("dn4@example.org", "", "dn4@example.org"),
            ("<dn5@example.org>", "", "dn5@example.org"),
            ("Dr. Neko (the cat) <dn6@example.org>", "Dr. Neko (the cat)", "dn6@example.org"),
        ]
        for value, name, addr in cases:
            with self.subTest(value=value):
                resp, files = self.relay(message(rcpt=["dn@example.jp"], mail=addr,
                                                 header={"from": value, "replyto": value}))
                path, raw, msg = files[0]
                self.assert_well_formed(raw)
                for field in ("From", "Reply-To"):
                    self.assertEqual(len(msg[field].addresses), 1, msg[field])
                    self.assertEqual(msg[field].addresses[0].display_name, name, field)
                    self.assertEqual(msg[field].addresses[0].addr_spec, addr, field)
                self.assertNotIn("Sender", msg)

    def test_long_http_headers_stay_within_limits(self):
        ua = "UA/" + "u" * 3000
        referer = "https://example.net/" + "r" * 3000
        resp = self.server.submit(message(rcpt=["uahdr@example.jp"]), headers={"User-Agent": ua, "Referer": referer})
        self.assertEqual(resp.status, 200, resp)
        (path, raw, msg), = self.server.messages_for(resp.json["queueid"])
        self.assert_well_formed(raw)
        self.assertIn("X-Mailer", msg)

    def test_body_line_endings_normalized(self):
        resp, files = self.relay(message(rcpt=["eol@example.jp"], body="one\rtwo\r\nthree\nfour\n\n.\n.."))
        path, raw, msg = files[0]
        self.assert_well_formed(raw)
        lines = body_text(msg).split("\n")
        for word in ("three", "four", ".", ".."):
            self.assertIn(word, lines)
        self.assertIn("two", body_text(msg))

    def test_files_stay_in_the_outbox(self):
        import os
        rcpts = ['"../../../escape"@example.jp', '"/tmp/evil"@example.jp', "a/b@example.jp"]
        before = set(os.listdir(self.server.root))
        resp = self.server.submit(message(rcpt=rcpts))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(set(os.listdir(self.server.root)), before)
        files = self.server.messages_for(resp.json["queueid"])
        self.assertEqual(sorted(field_lines(f[1], "To")[0][0].decode() for f in files),
                         sorted("To: " + r for r in rcpts))
        for path, raw, msg in files:
            self.assertEqual(os.path.dirname(os.path.realpath(path)), os.path.realpath(self.server.outbox))

    def test_referer_header(self):
        resp = self.server.submit(message(rcpt=["ref@example.jp"]),
                                  headers={"Referer": "https://form.example.net/contact"})
        self.assertEqual(resp.status, 200, resp)
        (path, raw, msg), = self.server.messages_for(resp.json["queueid"])
        self.assertEqual(str(msg["X-HTTP-Referer"]), "https://form.example.net/contact")

    def test_no_sender_when_from_is_the_envelope_sender(self):
        resp, files = self.relay(message(rcpt=["s1@example.jp"], mail="sender@example.org",
                                         header={"from": "Same Person <sender@example.org>"}))
        self.assertNotIn("Sender", files[0][2])

    def test_sender_when_from_differs(self):
        resp, files = self.relay(message(rcpt=["s2@example.jp"], mail="bounce@example.org",
                                         header={"from": "Author <author@example.org>"}))
        msg = files[0][2]
        self.assertIn("Sender", msg)
        self.assertEqual(msg["Sender"].addresses[0].addr_spec, "bounce@example.org")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "author@example.org")

    def test_no_from_header_uses_envelope_sender(self):
        resp, files = self.relay(message(rcpt=["s3@example.jp"], mail="bare@example.org", header={"from": None}))
        msg = files[0][2]
        self.assertEqual(msg["From"].addresses[0].addr_spec, "bare@example.org")
        self.assertNotIn("Sender", msg)

    def test_received_is_carried(self):
        upstream = "from upstream.example.net ([198.51.100.3]) by relay.example.net with HTTP id AAAA; " \
                   "Fri, 3 Jan 2014 18:35:58 +0900"
        resp, files = self.relay(message(rcpt=["recv@example.jp"], header={"received": [upstream]}))
        received = [" ".join(str(r).split()) for r in files[0][2].get_all("Received")]
        self.assertEqual(len(received), 2, received)
        self.assertIn(upstream, received)

    # ----- loops -----
    def test_loop_header_grows(self):
        resp, files = self.relay(message(rcpt=["loop@example.jp"],
                                         header={"x-haineko-loop": ["relay1.example.net", "relay2.example.net"]}))
        value = str(files[0][2]["X-Haineko-Loop"])
        hops = [h.strip() for h in re.split(r"[,\s]+", value) if h.strip()]
        # This server's node id: its host name and port, so two nodes on one host differ.
        self.assertEqual(hops, ["relay1.example.net", "relay2.example.net", "%s:%d" % (HOSTNAME, self.server.port)])

    def test_loop_detected(self):
        node = "%s:%d" % (HOSTNAME, self.server.port)
        for loop in ([HOSTNAME], ["relay1.example.net", HOSTNAME], HOSTNAME, "relay1.example.net, " + HOSTNAME,
                     [node], "relay1.example.net, " + node):
            with self.subTest(loop=loop):
                resp = self.server.submit(message(rcpt=["loop@example.jp"], header={"x-haineko-loop": loop}))
                self.assertCheck(resp, 400, "CONN", 421, None, "Detected message loop")

    # ----- header injection -----
    INJECTIONS = [
        ("subject", "Hello\r\nBcc: evil@example.com"),
        ("subject", "Hello\nX-Injected: 1"),
        ("subject", "Hello\rBcc: evil@example.com"),
        ("subject", "Hello\r\n\r\nX-Injected: 1"),
        ("subject", "ねこ\r\nBcc: evil@example.com"),
        ("subject", "Hello\r\n X-Injected: 1\r\nBcc: evil@example.com"),
        ("from", "Name <sender@example.org>\r\nBcc: evil@example.com"),
        ("from", "Name\r\nBcc: evil@example.com\r\n <sender@example.org>"),
        ("from", "ねこ <sender@example.org>\nX-Injected: 1"),
        ("replyto", "list@example.org\nX-Injected: 1"),
        ("replyto", "list@example.org\r\nBcc: evil@example.com"),
        ("received", ["from x\r\nBcc: evil@example.com"]),
        ("x-haineko-loop", ["relay.example.net\r\nX-Injected: 1"]),
        ("charset", "UTF-8\r\nX-Injected: 1"),
    ]

    def test_header_injection(self):
        for key, value in self.INJECTIONS:
            with self.subTest(key=key, value=value):
                resp = self.server.submit(message(rcpt=["inject@example.jp"], header={key: value},
                                                  body="the real body"))
                self.assertJsonAnswer(resp)
                self.assertIn(resp.status, (200, 400), resp)
                if resp.status != 200:
                    continue  # rejected: fine
                files = self.server.messages_for(resp.json["queueid"])
                self.assertEqual(len(files), 1)
                path, raw, msg = files[0]
                self.assert_well_formed(raw)
                self.assertIsNone(msg.get_all("Bcc"), raw.decode("utf-8", "replace"))
                self.assertNotIn("X-Injected", msg)
                for line in header_lines(raw):
                    self.assertFalse(line.lower().startswith(b"bcc:"), line)
                    self.assertFalse(line.lower().startswith(b"x-injected:"), line)
                self.assertEqual(body_text(msg), "the real body")
                self.assertEqual([str(t) for t in msg.get_all("To")], ["inject@example.jp"])


if __name__ == "__main__":
    unittest.main()
