"""Compatibility points settled by the differential run against the original, and the
causes that go to the log line while the answers keep the contract's texts: exact paths,
session facts in every answer, "Name <addr>" envelopes, numbers in string fields, the
File mailer's dsn, the sample text, wrong JSON types answering their check's error,
GET / without credentials."""

import re
import unittest

from harness import HOSTNAME, HainekoTestCase, basic_auth, message
from peers import SmtpSink


class LogCauses(HainekoTestCase):
    """relayhosts lets in 127.0.0.1 only; 127.0.0.2 is a client it does not list."""

    etc = {"relayhosts": {"open-relay": 0, "relayhosts": ["127.0.0.1"]}}

    def log_line(self, resp):
        """The submission's log line, found by the client's port."""
        lines = self.server.wait_log("client=%s:%d " % (resp.json["remoteaddr"], resp.json["remoteport"]))
        self.assertEqual(len(lines), 1, self.server.stderr_text()[-2000:])
        return lines[0]

    def assertNotLeaked(self, resp, *words):
        for word in words:
            self.assertNotIn(word.encode(), resp.body, "the cause belongs in the log, not in the answer")

    def test_relayhosts_refusal(self):
        resp = self.server.submit(message(), source="127.0.0.2")
        self.assertCheck(resp, 403, "AUTH", 500, "5.7.1", "Access denied")
        self.assertEqual(resp.json["remoteaddr"], "127.0.0.2")
        line = self.log_line(resp)
        self.assertIn("relayhosts", line)
        self.assertIn("127.0.0.2", line)
        self.assertIn("status=403", line)
        self.assertNotLeaked(resp, "relayhosts")

    def test_recipients_refusal(self):
        resp = self.server.submit(message(rcpt=["neko@not-listed.example.net"]))
        self.assertCheck(resp, 400, "RCPT", 553, "5.7.1", "Recipient address is not permitted",
                         rcpt="neko@not-listed.example.net")
        line = self.log_line(resp)
        self.assertIn("recipients", line)
        self.assertIn("not-listed.example.net", line)
        self.assertNotLeaked(resp, "recipients\"", "is not in recipients")

    def test_loop(self):
        resp = self.server.submit(message(header={"x-haineko-loop": ["relay-1.example.net", HOSTNAME]}))
        self.assertCheck(resp, 400, "CONN", 421, None, "Detected message loop")
        line = self.log_line(resp)
        self.assertRegex(line, r"cause=.*%s" % re.escape(HOSTNAME), "the looping host is not named: " + line)
        self.assertNotLeaked(resp, "this server")

    def test_malformed_json_position(self):
        body = b'{\n  "ehlo": "client.example.net",\n  "mail": ,\n  "rcpt": ["neko@example.jp"]\n}'
        resp = self.server.submit(body)
        self.assertCheck(resp, 400, "HTTP", 421, None, "Malformed JSON string")
        line = self.log_line(resp)
        m = re.search(r"line (\d+), column (\d+)", line)
        self.assertIsNotNone(m, "no JSON position in the log line: " + line)
        self.assertEqual(int(m.group(1)), 3, line)
        self.assertIn(int(m.group(2)), (10, 11), line)
        self.assertNotLeaked(resp, "column")


class ExactPathsAndSessionFacts(HainekoTestCase):
    def test_trailing_slash_is_404(self):
        for method, path in (("POST", "/submit/"), ("GET", "/sample/mail/"), ("GET", "/neko/"), ("GET", "/conf/")):
            with self.subTest(path=path):
                resp = self.server.request(method, path, body=b"{}" if method == "POST" else None)
                self.assertCheck(resp, 404, "HTTP", 421, None, "Not found")

    def test_404_answer_has_the_session_facts(self):
        resp = self.server.request("GET", "/nowhere", headers={"User-Agent": "facts/2.0",
                                                               "Referer": "http://example.jp/from"})
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 404, resp)
        self.assertEqual(resp.json["useragent"], "facts/2.0", resp.json)
        self.assertEqual(resp.json["referer"], "http://example.jp/from", resp.json)
        self.assertEqual(resp.json["remoteaddr"], "127.0.0.1", resp.json)
        self.assertIsInstance(resp.json["remoteport"], int, resp.json)

    def test_sample_mail_text(self):
        resp = self.server.request("GET", "/sample/mail")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.json), 2, resp.json)
        self.assertEqual(resp.json[1]["body"], "メールの本文(日本語)")

    def test_file_mailer_answer_has_dsn_null(self):
        resp = self.server.submit(message(rcpt=["dsn@example.jp"]))
        self.assertEqual(resp.status, 200, resp)
        entry = resp.json["response"][0]
        self.assertEqual(entry["mailer"], "File", entry)
        self.assertIn("dsn", entry)
        self.assertIsNone(entry["dsn"], entry)
        self.assertEqual(entry["error"], 0, entry)

    def test_number_in_a_string_field(self):
        for value, text in ((1.25, "1.25"), (3, "3"), (0.5, "0.5"), (-2.75, "-2.75")):
            with self.subTest(value=value):
                resp = self.server.submit(message(rcpt=["number@example.jp"], header={"subject": value}))
                self.assertEqual(resp.status, 200, resp)
                (_path, _raw, msg), = self.server.messages_for(resp.json["queueid"])
                self.assertEqual(msg["Subject"], text)


class WrongJsonTypes(HainekoTestCase):
    def test_ehlo(self):
        for ehlo in (["client.example.net"], {"a": 1}, ["a"]):
            with self.subTest(ehlo=ehlo):
                self.assertCheck(self.server.submit(message(ehlo=ehlo)), 400, "EHLO", 501, "5.0.0",
                                 "Invalid domain name")

    def test_mail(self):
        for mail in (["sender@example.org"], {"address": "sender@example.org"}):
            with self.subTest(mail=mail):
                self.assertCheck(self.server.submit(message(mail=mail)), 400, "MAIL", 553, "5.5.4",
                                 "Domain name required for sender address")

    def test_rcpt_elements(self):
        for element in (["neko@example.jp"], {"to": "neko@example.jp"}):
            with self.subTest(element=element):
                resp = self.server.submit(message(rcpt=[element]))
                self.assertJsonAnswer(resp)
                self.assertEqual(resp.status, 400, resp)
                entry = resp.json["response"][0]
                self.assertEqual((entry["command"], entry["code"], entry["dsn"], entry["message"]),
                                 ("RCPT", 553, "5.1.5", ["Recipient address is invalid"]), entry)

    def test_rcpt_element_of_the_wrong_type_next_to_a_good_one(self):
        resp = self.server.submit(message(rcpt=[["x"], "good@example.jp"]))
        self.assertEqual(resp.status, 200, resp)
        by_code = sorted(int(e["code"]) for e in resp.json["response"])
        self.assertEqual(by_code, [200, 553], resp.json)

    def test_header(self):
        for header in ("Subject: a string", ["subject", "x"], 42):
            with self.subTest(header=header):
                payload = message()
                payload["header"] = header
                self.assertCheck(self.server.submit(payload), 400, "DATA", 500, "5.6.0", "Subject header is empty")


class EnvelopeAddressForms(HainekoTestCase):
    """A mail or rcpt written "Name <addr>" or with spaces around is taken as addr."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = cls.class_peer(SmtpSink())
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "pool_idle_timeout": 1}},
            "mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.sink.port,
                                        "timeout": 10}},
        })

    def test_name_and_angle_brackets_and_spaces(self):
        resp = self.server.submit(message(mail="Kijitora Sender <named@example.org>",
                                          rcpt=[" spaced@example.jp ", "Neko <named-rcpt@example.jp>"]))
        self.assertEqual(resp.status, 200, resp)
        j = resp.json
        self.assertEqual(j["addresser"], "named@example.org", j)
        self.assertEqual(j["recipient"], ["spaced@example.jp", "named-rcpt@example.jp"], j)
        self.assertEqual(sorted(e["rcpt"] for e in j["response"]), ["named-rcpt@example.jp", "spaced@example.jp"])
        for entry in j["response"]:
            self.assertEqual(entry["error"], 0, entry)
        for rcpt in ("spaced@example.jp", "named-rcpt@example.jp"):
            got = self.sink.wait_for_rcpt(rcpt)
            self.assertEqual(len(got), 1, rcpt)
            self.assertEqual(got[0].rcpt_args[0].split()[0], "<%s>" % rcpt)
            self.assertEqual(got[0].mail_args.split()[0], "<named@example.org>")


class GetRootWithoutCredentials(HainekoTestCase):
    args = ("-A",)
    etc = {"password": "haineko: '{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn'\n"}  # haineko / kijitora

    def test_root_answers_without_credentials(self):
        for headers in ({}, {"Authorization": basic_auth("haineko", "wrong")}):
            with self.subTest(headers=headers):
                resp = self.server.request("GET", "/", headers=headers)
                self.assertJsonAnswer(resp)
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.json["name"], "Haineko")

    def test_submit_still_needs_them(self):
        resp = self.server.submit(message())
        self.assertCheck(resp, 401, "AUTH", 500, "5.7.1", "Access denied. Proper authentication required.")
        resp = self.server.submit(message(), headers={"Authorization": basic_auth("haineko", "kijitora")})
        self.assertEqual(resp.status, 200, resp)

    def test_other_paths_still_need_them(self):
        for path in ("/conf", "/sample/mail", "/neko"):
            with self.subTest(path=path):
                self.assertEqual(self.server.request("GET", path).status, 401)


if __name__ == "__main__":
    unittest.main()
