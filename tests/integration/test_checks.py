"""The checks of POST /submit, in the contract's order, with their answers; the session
shape; aliases and relaxed JSON; endpoints; relayhosts and X-Forwarded-For."""

import json
import os
import time
import unittest
import urllib.parse

from harness import (HOSTNAME, HainekoTestCase, basic_auth, message, parse_raw_response, raw_exchange, run_ctl)


class SubmitChecks(HainekoTestCase):
    etc = {
        "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_message_size": 2000, "max_rcpts_per_message": 4}},
    }

    def post(self, payload, **kw):
        resp = self.server.submit(payload, **kw)
        self.assertJsonAnswer(resp)
        return resp

    # --- row 4: not JSON ---
    def test_04_body_not_json(self):
        resp = self.post(b"this is not JSON at all")
        self.assertCheck(resp, 400, "HTTP", 421, None, "Malformed JSON string")

    # --- row 5: loop ---
    def test_05_loop_detected_list(self):
        resp = self.post(message(header={"x-haineko-loop": ["relay1.example.net", HOSTNAME]}))
        self.assertCheck(resp, 400, "CONN", 421, None, "Detected message loop")

    def test_05_loop_detected_string(self):
        resp = self.post(message(header={"x-haineko-loop": HOSTNAME}))
        self.assertCheck(resp, 400, "CONN", 421, None, "Detected message loop")

    def test_05_loop_other_hosts_pass(self):
        resp = self.post(message(header={"x-haineko-loop": ["relay1.example.net"]}))
        self.assertEqual(resp.status, 200, resp)

    # --- rows 6-7: EHLO ---
    def test_06_ehlo_empty(self):
        resp = self.post(message(ehlo=""))
        self.assertCheck(resp, 400, "EHLO", 501, "5.0.0", "EHLO requires domain address")

    def test_06_ehlo_missing(self):
        m = message()
        del m["ehlo"]
        resp = self.post(m)
        self.assertCheck(resp, 400, "EHLO", 501, "5.0.0", "EHLO requires domain address")

    def test_07_ehlo_invalid(self):
        for ehlo in ("localhost", "client.example.123", "neko@example.jp", "-", "exa mple.com", "[999.1.1.1]"):
            with self.subTest(ehlo=ehlo):
                resp = self.post(message(ehlo=ehlo))
                self.assertCheck(resp, 400, "EHLO", 501, "5.0.0", "Invalid domain name")

    def test_07_ehlo_number(self):
        resp = self.post(message(ehlo=1))
        self.assertCheck(resp, 400, "EHLO", 501, "5.0.0", "Invalid domain name")

    def test_07_ehlo_valid_forms(self):
        for ehlo in ("client.example.net", "[127.0.0.1]", "192.0.2.25", "mx-1.sub.example.org"):
            with self.subTest(ehlo=ehlo):
                resp = self.post(message(ehlo=ehlo))
                self.assertEqual(resp.status, 200, resp)

    # --- rows 8-10: MAIL ---
    def test_08_mail_empty(self):
        resp = self.post(message(mail=""))
        self.assertCheck(resp, 400, "MAIL", 501, "5.5.2", 'Syntax error in parameters scanning "FROM"')

    def test_09_mail_not_an_address(self):
        for mail in ("sender", "sender@", "@example.org", "a b@example.org"):
            with self.subTest(mail=mail):
                resp = self.post(message(mail=mail))
                self.assertCheck(resp, 400, "MAIL", 553, "5.5.4", "Domain name required for sender address")

    def test_10_mail_non_ascii(self):
        resp = self.post(message(mail="ねこ@example.org"))
        self.assertEqual(resp.status, 400, resp)
        entry = resp.json["response"][0]
        self.assertEqual(entry["command"], "MAIL", entry)
        # The contract allows the original's 5.5.4 as well as 5.6.7 here.
        self.assertIn((entry["code"], entry["dsn"], entry["message"]),
                      [(553, "5.6.7", ["non-ASCII address is not permitted"]),
                       (553, "5.5.4", ["Domain name required for sender address"])], entry)

    # --- rows 11-12: RCPT count ---
    def test_11_rcpt_empty(self):
        for rcpt in ([], "", None):
            with self.subTest(rcpt=rcpt):
                m = message(rcpt=rcpt)
                if rcpt is None:
                    del m["rcpt"]
                resp = self.post(m)
                self.assertCheck(resp, 400, "RCPT", 553, "5.0.0", "User address required")

    def test_12_too_many_recipients(self):
        rcpts = ["r%d@example.jp" % i for i in range(5)]
        resp = self.post(message(rcpt=rcpts))
        self.assertCheck(resp, 403, "RCPT", 452, "4.5.3", "Too many recipients")

    def test_12_at_the_limit(self):
        rcpts = ["r%d@example.jp" % i for i in range(4)]
        resp = self.post(message(rcpt=rcpts))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["recipient"], rcpts)
        self.assertEqual(len(resp.json["response"]), 4)

    # --- rows 13-15: each recipient ---
    def test_13_rcpt_not_an_address(self):
        resp = self.post(message(rcpt=["not-an-address"]))
        self.assertCheck(resp, 400, "RCPT", 553, "5.1.5", "Recipient address is invalid", rcpt="not-an-address")

    def test_13_rcpt_number(self):
        resp = self.post(message(rcpt=[12345]))
        self.assertCheck(resp, 400, "RCPT", 553, "5.1.5", "Recipient address is invalid", rcpt="12345")

    def test_13_rcpt_non_ascii(self):
        rcpt = "ねこ@example.jp"
        resp = self.post(message(rcpt=[rcpt]))
        self.assertCheck(resp, 400, "MAIL", 553, "5.6.7", "non-ASCII address is not permitted", rcpt=rcpt)

    def test_14_rcpt_rejected(self):
        rcpt = "someone@not-listed.example.org"
        resp = self.post(message(rcpt=[rcpt]))
        self.assertCheck(resp, 400, "RCPT", 553, "5.7.1", "Recipient address is not permitted", rcpt=rcpt)

    def test_15_all_recipients_rejected_keep_their_errors(self):
        rcpts = ["bad-address", "x@not-listed.example.org"]
        resp = self.post(message(rcpt=rcpts))
        self.assertEqual(resp.status, 400, resp)
        self.assertCheck(resp, 400, "RCPT", 553, "5.1.5", "Recipient address is invalid", rcpt="bad-address",
                         index=0, count=2)
        self.assertCheck(resp, 400, "RCPT", 553, "5.7.1", "Recipient address is not permitted",
                         rcpt="x@not-listed.example.org", index=1, count=2)
        self.assertEqual(resp.json["recipient"], [])
        self.assertEqual(self.server.messages_for(resp.json["queueid"]) if resp.json["queueid"] else [], [])

    def test_partial_success(self):
        good, bad = "good@example.jp", "bad@not-listed.example.org"
        resp = self.post(message(rcpt=[good, bad]))
        self.assertEqual(resp.status, 200, resp)
        j = resp.json
        self.assertSessionShape(j)
        self.assertEqual(j["recipient"], [good])
        self.assertEqual(len(j["response"]), 2, j)
        by_rcpt = {e["rcpt"]: e for e in j["response"]}
        self.assertEqual(set(by_rcpt), {good, bad})
        self.assertEqual(by_rcpt[bad]["error"], 1)
        self.assertEqual(by_rcpt[bad]["code"], 553)
        self.assertEqual(by_rcpt[bad]["dsn"], "5.7.1")
        self.assertEqual(by_rcpt[bad]["command"], "RCPT")
        self.assertEqual(by_rcpt[bad]["message"], ["Recipient address is not permitted"])
        self.assertEqual(by_rcpt[good]["error"], 0, by_rcpt[good])
        self.assertEqual(by_rcpt[good]["mailer"], "File")
        files = self.server.messages_for(j["queueid"])
        self.assertEqual(len(files), 1, files)
        self.assertEqual(files[0][2]["To"], good)

    def test_recipients_file_listed_address(self):
        # domainpart lists example.jp/example.com; an address in another domain is rejected
        # (see test_14); case of the domain does not matter
        resp = self.post(message(rcpt=["Neko@EXAMPLE.JP"]))
        self.assertEqual(resp.status, 200, resp)

    # --- rows 16-18: DATA ---
    def test_16_body_empty(self):
        resp = self.post(message(body=""))
        self.assertCheck(resp, 400, "DATA", 500, "5.6.0", "Message body is empty")

    def test_17_body_too_big(self):
        resp = self.post(message(body="x" * 2001))
        self.assertCheck(resp, 400, "DATA", 552, "5.2.3", "Message size exceeds fixed maximum message size")

    def test_17_body_at_limit(self):
        resp = self.post(message(body="x" * 2000))
        self.assertEqual(resp.status, 200, resp)

    def test_18_subject_empty(self):
        for subject in ("", None):
            with self.subTest(subject=subject):
                resp = self.post(message(header={"subject": subject}))
                self.assertCheck(resp, 400, "DATA", 500, "5.6.0", "Subject header is empty")

    def test_18_no_header_at_all(self):
        m = message()
        del m["header"]
        resp = self.post(m)
        self.assertCheck(resp, 400, "DATA", 500, "5.6.0", "Subject header is empty")

    # --- order of the checks ---
    def test_order_of_checks(self):
        everything_wrong = {"ehlo": "", "mail": "", "rcpt": [], "body": "",
                            "header": {"subject": "", "x-haineko-loop": [HOSTNAME]}}
        steps = [
            ("x-haineko-loop", "CONN", 421),
            ("ehlo", "EHLO", 501),
            ("mail", "MAIL", 501),
            ("rcpt", "RCPT", 553),
            ("body", "DATA", 500),
            ("subject", "DATA", 500),
        ]
        fixes = {"x-haineko-loop": lambda m: m["header"].pop("x-haineko-loop"),
                 "ehlo": lambda m: m.update(ehlo="client.example.net"),
                 "mail": lambda m: m.update(mail="s@example.org"),
                 "rcpt": lambda m: m.update(rcpt=["r@example.jp"]),
                 "body": lambda m: m.update(body="text"),
                 "subject": lambda m: m["header"].update(subject="s")}
        m = everything_wrong
        for field, command, code in steps:
            with self.subTest(first_failing=field):
                resp = self.post(m)
                self.assertEqual(resp.status // 100, 4, resp)
                self.assertEqual(len(resp.json["response"]), 1, resp.json)
                self.assertEqual(resp.json["response"][0]["command"], command, resp.json)
                self.assertEqual(resp.json["response"][0]["code"], code, resp.json)
            fixes[field](m)
        resp = self.post(m)
        self.assertEqual(resp.status, 200, resp)

    def test_partial_success_with_an_invalid_address(self):
        resp = self.post(message(rcpt=["fine@example.com", "not an address"]))
        self.assertEqual(resp.status, 200, resp)
        by_rcpt = {e["rcpt"]: e for e in resp.json["response"]}
        self.assertEqual(by_rcpt["not an address"]["dsn"], "5.1.5")
        self.assertEqual(by_rcpt["not an address"]["code"], 553)
        self.assertEqual(by_rcpt["fine@example.com"]["error"], 0)
        self.assertEqual(resp.json["recipient"], ["fine@example.com"])

    def test_too_many_counts_before_per_recipient_checks(self):
        rcpts = ["bad-one", "x@not-listed.example.org", "a@example.jp", "b@example.jp", "c@example.jp"]
        resp = self.post(message(rcpt=rcpts))
        self.assertCheck(resp, 403, "RCPT", 452, "4.5.3", "Too many recipients")

    def test_sample_mail_posted_back(self):
        samples = self.server.request("GET", "/sample/mail").json
        for sample in samples:
            with self.subTest(keys=sorted(sample)):
                resp = self.post(sample)
                self.assertEqual(resp.status, 200, resp)
                self.assertTrue(all(e["error"] == 0 for e in resp.json["response"]), resp.json)

    # --- the session shape ---
    def test_session_shape_of_success(self):
        conn = self.server.connection()
        try:
            resp = self.server.request("POST", "/submit", body=self._json(message(rcpt=["a@example.jp"])),
                                       headers={"User-Agent": "curl/8.4.0", "Referer": "http://form.example.net/p",
                                                "Content-Type": "application/json"}, conn=conn)
            local_port = conn.sock.getsockname()[1] if conn.sock else None
        finally:
            conn.close()
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        j = resp.json
        self.assertSessionShape(j)
        self.assertRegex(j["queueid"], r"^[0-9A-Za-z]{16}$")
        self.assertEqual(j["addresser"], "sender@example.org")
        self.assertEqual(j["recipient"], ["a@example.jp"])
        self.assertEqual(j["referer"], "http://form.example.net/p")
        self.assertEqual(j["useragent"], "curl/8.4.0")
        self.assertEqual(j["remoteaddr"], "127.0.0.1")
        self.assertIsInstance(j["remoteport"], int)
        if local_port is not None:
            self.assertEqual(j["remoteport"], local_port)
        self.assertIsInstance(j["timestamp"]["unixtime"], str)
        self.assertRegex(j["timestamp"]["unixtime"], r"^\d+$")
        self.assertLess(abs(int(j["timestamp"]["unixtime"]) - time.time()), 120)
        self.assertRegex(j["timestamp"]["datetime"], r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$")
        self.assertEqual(len(j["response"]), 1)
        entry = j["response"][0]
        self.assertEqual(entry["rcpt"], "a@example.jp")
        self.assertEqual(entry["error"], 0)
        self.assertEqual(entry["mailer"], "File")
        self.assertTrue(set(ERROR_KEYS_MIN).issubset(entry), entry)

    def test_queueids_differ(self):
        ids = set()
        for _ in range(5):
            resp = self.post(message())
            self.assertEqual(resp.status, 200, resp)
            ids.add(resp.json["queueid"])
        self.assertEqual(len(ids), 5)

    def test_error_session_of_check_has_addresser_and_port(self):
        resp = self.post(message(body=""))
        j = self.assertCheck(resp, 400, "DATA", 500, "5.6.0", "Message body is empty")
        self.assertEqual(j["remoteaddr"], "127.0.0.1")
        self.assertIsInstance(j["remoteport"], int)
        self.assertEqual(j["useragent"], "haineko-it/1.0")

    # --- aliases, relaxed JSON, escapes ---
    def test_aliases(self):
        variants = [
            {"helo": "client.example.net", "send": "s1@example.org", "recv": ["r1@example.jp"]},
            {"helo": "client.example.net", "from": "s2@example.org", "to": ["r2@example.jp"]},
            {"ehlo": "client.example.net", "from": "s3@example.org", "recv": ["r3@example.jp", "r4@example.com"]},
        ]
        for v in variants:
            with self.subTest(keys=sorted(v)):
                payload = dict(v, header={"subject": "alias"}, body="alias body")
                resp = self.post(payload)
                self.assertEqual(resp.status, 200, resp)
                sender = v.get("send") or v.get("from")
                rcpts = v.get("recv") or v.get("to")
                self.assertEqual(resp.json["addresser"], sender)
                self.assertEqual(resp.json["recipient"], rcpts)
                files = self.server.messages_for(resp.json["queueid"])
                self.assertEqual(sorted(str(f[2]["To"]) for f in files), sorted(rcpts))

    def test_rcpt_as_single_string(self):
        resp = self.post(message(rcpt="single@example.jp"))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["recipient"], ["single@example.jp"])

    def test_relaxed_json(self):
        body = ("{ehlo: 'client.example.net', mail: 'sender@example.org', rcpt: ['relaxed@example.jp'], "
                "header: {subject: 'Relaxed \"JSON\"', from: 'Neko <sender@example.org>'}, "
                "body: 'It\\'s relaxed'}")
        resp = self.post(body.encode())
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["recipient"], ["relaxed@example.jp"])
        (path, raw, msg), = self.server.messages_for(resp.json["queueid"])
        self.assertEqual(msg["Subject"], 'Relaxed "JSON"')
        self.assertEqual(msg.get_content().replace("\r\n", "\n").rstrip("\n"), "It's relaxed")

    def test_json_unicode_escapes(self):
        body = (b'{"ehlo":"client.example.net","mail":"sender@example.org","rcpt":["esc@example.jp"],'
                b'"header":{"subject":"\\u306d\\u3053 \\ud83d\\udc31","from":"\\u306f\\u3044 <sender@example.org>"},'
                b'"body":"\\u672c\\u6587\\nline2"}')
        resp = self.post(body)
        self.assertEqual(resp.status, 200, resp)
        (path, raw, msg), = self.server.messages_for(resp.json["queueid"])
        self.assertEqual(msg["Subject"], "ねこ 🐱")
        self.assertEqual(msg["From"].addresses[0].display_name, "はい")
        self.assertEqual(msg.get_content().replace("\r\n", "\n").rstrip("\n"), "本文\nline2")

    # --- endpoints ---
    def test_not_found(self):
        for path in ("/nothing", "/submit/extra", "/conf/x", "/../etc/passwd"):
            with self.subTest(path=path):
                resp = self.server.request("GET", path)
                self.assertJsonAnswer(resp)
                j = self.assertCheck(resp, 404, "HTTP", 421, None, "Not found")
                self.assertIsNone(j["queueid"])

    def test_get_submit_outside_devel(self):
        q = urllib.parse.urlencode({"ehlo": "client.example.net", "mail": "s@example.org", "rcpt": "r@example.jp",
                                    "header.subject": "get", "body": "get body"})
        resp = self.server.request("GET", "/submit?" + q)
        self.assertCheck(resp, 405, "HTTP", 421, None, "GET method not supported")
        self.assertEqual(self.server.messages_for(resp.json["queueid"]) if resp.json["queueid"] else [], [])

    def test_root(self):
        resp = self.server.request("GET", "/")
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.json["name"], "Haineko")
        self.assertIsInstance(resp.json["version"], str)

    def test_sample_mail_and_neko(self):
        resp = self.server.request("GET", "/sample/mail")
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200)
        self.assertIsInstance(resp.json, list)
        self.assertEqual(len(resp.json), 2)
        resp = self.server.request("GET", "/neko")
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200)

    def test_every_answer_is_json_with_nosniff(self):
        cases = [("GET", "/", None), ("GET", "/conf", None), ("GET", "/x", None), ("PUT", "/submit", b"{}"),
                 ("DELETE", "/submit", None), ("POST", "/submit", b"{"), ("POST", "/submit", self._json(message())),
                 ("HEAD", "/nothing", None)]
        for method, path, body in cases:
            with self.subTest(method=method, path=path):
                resp = self.server.request(method, path, body=body)
                ctype = resp.header("Content-Type") or ""
                self.assertTrue(ctype.startswith("application/json"), (method, path, ctype))
                self.assertEqual(resp.header("X-Content-Type-Options"), "nosniff")
                if method != "HEAD":
                    self.assertIsNotNone(resp.json, resp)

    def test_other_methods_on_submit(self):
        resp = self.server.request("PUT", "/submit", body=self._json(message()))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 405, resp)
        self.assertEqual(resp.json["response"][0]["command"], "HTTP")

    @staticmethod
    def _json(m):
        import json
        return json.dumps(m).encode()


ERROR_KEYS_MIN = ("dsn", "code", "host", "port", "rcpt", "error", "mailer", "command", "message")


class Mailers(HainekoTestCase):
    """Route choice and the local mailers; an unknown or empty mailer answers 500 for its recipient."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.make_server(start=False)
        cls.pathbox = os.path.join(srv.root, "pathbox")
        os.makedirs(cls.pathbox)
        srv.write_etc("mailertable", {
            "default": {"mailer": "File", "path": "outbox"},
            "discard.example.net": {"mailer": "Discard"},
            "unknown.example.net": {"mailer": "Nyaaan"},
            "empty.example.net": {"mailer": ""},
            "disabled.example.net": {"mailer": "Nyaaan", "disabled": 1},
            "path.example.net": {"mailer": cls.pathbox},
        })
        srv.write_etc("sendermt", {"sendermt.example.org": {"mailer": "Discard"}})
        srv.write_etc("recipients", {"open-relay": 1})
        srv.start()
        cls.addClassCleanup(cls._stop_checked, srv)
        cls.server = srv

    def relay(self, rcpt, mail="sender@example.org"):
        resp = self.server.submit(message(rcpt=[rcpt], mail=mail, header={"from": None}))
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.json["response"]), 1, resp.json)
        return resp.json["response"][0], resp.json["queueid"]

    def test_discard(self):
        entry, qid = self.relay("a@discard.example.net")
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["mailer"], "Discard")
        self.assertEqual(self.server.messages_for(qid), [])

    def test_unknown_mailer(self):
        for rcpt in ("a@unknown.example.net", "a@empty.example.net"):
            with self.subTest(rcpt=rcpt):
                entry, qid = self.relay(rcpt)
                self.assertEqual(entry["error"], 1, entry)
                self.assertEqual(int(entry["code"]), 500, entry)
                self.assertEqual(entry["rcpt"], rcpt)
                self.assertTrue(entry["message"] and all(isinstance(m, str) and m for m in entry["message"]),
                                entry)
                self.assertEqual(self.server.messages_for(qid), [])

    def test_disabled_entry_is_skipped(self):
        entry, qid = self.relay("a@disabled.example.net")
        self.assertEqual(entry["error"], 0, entry)
        self.assertEqual(entry["mailer"], "File")
        self.assertEqual(len(self.server.messages_for(qid)), 1)

    def test_mailer_given_as_a_path(self):
        entry, qid = self.relay("a@path.example.net")
        self.assertEqual(entry["error"], 0, entry)
        files = [f for f in os.listdir(self.pathbox) if f.endswith(".eml")]
        self.assertEqual(len(files), 1, files)
        with open(os.path.join(self.pathbox, files[0]), "rb") as f:
            self.assertIn(b"To: a@path.example.net", f.read())

    def test_sendermt_when_mailertable_has_no_entry(self):
        entry, qid = self.relay("a@elsewhere.example.net", mail="s@sendermt.example.org")
        self.assertEqual(entry["mailer"], "Discard", entry)
        entry, qid = self.relay("a@discard.example.net", mail="s@sendermt.example.org")
        self.assertEqual(entry["mailer"], "Discard", entry)
        entry, qid = self.relay("a@unknown.example.net", mail="s@sendermt.example.org")
        self.assertEqual(entry["error"], 1, "mailertable's entry must win over sendermt's: %r" % entry)

    def test_mixed_outcomes_are_200(self):
        resp = self.server.submit(message(rcpt=["a@unknown.example.net", "b@discard.example.net",
                                                "c@example.jp"]))
        self.assertEqual(resp.status, 200, resp)
        by = {e["rcpt"]: e["error"] for e in resp.json["response"]}
        self.assertEqual(by, {"a@unknown.example.net": 1, "b@discard.example.net": 0, "c@example.jp": 0})


class MissingTables(HainekoTestCase):
    """No relayhosts and no recipients file: only 127.0.0.1 may submit, only to the server's own name."""
    etc = {"recipients": None}

    def test_own_hostname_is_the_only_recipient_domain(self):
        resp = self.server.submit(message(rcpt=["postmaster@" + HOSTNAME]))
        self.assertEqual(resp.status, 200, resp)
        resp = self.server.submit(message(rcpt=["someone@example.jp"]))
        self.assertCheck(resp, 400, "RCPT", 553, "5.7.1", "Recipient address is not permitted",
                         rcpt="someone@example.jp")


class TableNames(HainekoTestCase):
    """smtpd.access / smtpd.mailer name other files: relative to etc/, or absolute."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.make_server(start=False)
        absolute = os.path.join(srv.root, "elsewhere", "rcpt.yaml")
        os.makedirs(os.path.dirname(absolute))
        with open(absolute, "w") as f:
            f.write("domainpart: [absolute.example.net]\n")
        srv.write_etc("haineko.cf", {"smtpd": {"hostname": HOSTNAME,
                                               "access": {"conn": "hosts-ok", "rcpt": absolute},
                                               "mailer": {"rcpt": "routes"}}})
        srv.write_etc("hosts-ok", {"relayhosts": ["127.0.0.1"]})
        srv.write_etc("routes", {"default": {"mailer": "Discard"}})
        srv.start()
        cls.addClassCleanup(cls._stop_checked, srv)
        cls.server = srv

    def test_named_tables_are_used(self):
        resp = self.server.submit(message(rcpt=["a@absolute.example.net"]))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["response"][0]["mailer"], "Discard")
        resp = self.server.submit(message(rcpt=["a@example.jp"]))
        self.assertEqual(resp.status, 400, resp)


class DevelDebugTables(HainekoTestCase):
    """In development mode NAME-debug replaces NAME."""
    args = ("-d",)
    etc = {"recipients-debug": {"domainpart": ["debug.example.net"]},
           "mailertable-debug": {"default": {"mailer": "Discard"}}}

    def test_debug_tables(self):
        resp = self.server.submit(message(rcpt=["a@debug.example.net"]))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["response"][0]["mailer"], "Discard")
        resp = self.server.submit(message(rcpt=["a@example.jp"]))
        self.assertEqual(resp.status, 400, resp)


class DebugTablesIgnoredOutsideDevel(HainekoTestCase):
    etc = {"recipients-debug": {"domainpart": ["debug.example.net"]}}

    def test_debug_tables_ignored(self):
        self.assertEqual(self.server.submit(message(rcpt=["a@debug.example.net"])).status, 400)
        self.assertEqual(self.server.submit(message(rcpt=["a@example.jp"])).status, 200)


class AuthRequiredCheck(HainekoTestCase):
    """Row 1: Basic auth on, credentials missing or wrong."""

    @classmethod
    def setUpClass(cls):
        line = run_ctl("pw", "-u", "checker", "-p", "meow-meow").stdout.strip()
        cls.etc = {"password": line + "\n"}
        cls.args = ("-A",)
        super().setUpClass()

    def test_01_missing_credentials(self):
        resp = self.server.submit(message())
        self.assertCheck(resp, 401, "AUTH", 500, "5.7.1", "Access denied. Proper authentication required.")
        self.assertTrue((resp.header("WWW-Authenticate") or "").startswith("Basic realm="), resp.headers)

    def test_01_wrong_credentials(self):
        resp = self.server.submit(message(), headers={"Authorization": basic_auth("checker", "wrong")})
        self.assertCheck(resp, 401, "AUTH", 500, "5.7.1", "Access denied. Proper authentication required.")
        self.assertTrue((resp.header("WWW-Authenticate") or "").startswith("Basic realm="))

    def test_01_auth_comes_before_everything(self):
        resp = self.server.submit(b"not json")
        self.assertCheck(resp, 401, "AUTH", 500, "5.7.1", "Access denied. Proper authentication required.")

    def test_01_right_credentials(self):
        resp = self.server.submit(message(), headers={"Authorization": basic_auth("checker", "meow-meow")})
        self.assertEqual(resp.status, 200, resp)


class RelayHostsDenied(HainekoTestCase):
    """Row 3: 127.0.0.1 is not in relayhosts; X-Forwarded-For from an untrusted peer is ignored."""
    etc = {"relayhosts": {"open-relay": 0, "relayhosts": ["198.51.100.0/24", "203.0.113.7"]}}

    def test_03_access_denied(self):
        resp = self.server.submit(message())
        self.assertCheck(resp, 403, "AUTH", 500, "5.7.1", "Access denied")

    def test_03_access_denied_before_json_check(self):
        resp = self.server.submit(b"not json")
        self.assertCheck(resp, 403, "AUTH", 500, "5.7.1", "Access denied")

    def test_03_forwarded_for_from_untrusted_peer_is_ignored(self):
        for xff in ("203.0.113.7", "198.51.100.20", "10.1.1.1, 203.0.113.7"):
            with self.subTest(xff=xff):
                resp = self.server.submit(message(), headers={"X-Forwarded-For": xff})
                j = self.assertCheck(resp, 403, "AUTH", 500, "5.7.1", "Access denied")
                self.assertEqual(j["remoteaddr"], "127.0.0.1")

    def test_02_get_comes_before_relayhosts(self):
        resp = self.server.request("GET", "/submit")
        self.assertCheck(resp, 405, "HTTP", 421, None, "GET method not supported")


class RelayHostsTrustedProxy(HainekoTestCase):
    """127.0.0.1 is a trusted proxy: its X-Forwarded-For names the client."""
    etc = {
        "haineko.cf": {"smtpd": {"hostname": HOSTNAME, "trusted_proxies": ["127.0.0.1"]}},
        "relayhosts": {"open-relay": 0, "relayhosts": ["198.51.100.0/24"]},
    }

    def test_forwarded_for_listed_client_may_relay(self):
        resp = self.server.submit(message(), headers={"X-Forwarded-For": "198.51.100.20"})
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["remoteaddr"], "198.51.100.20")
        (path, raw, msg), = self.server.messages_for(resp.json["queueid"])
        self.assertEqual(msg["X-Originating-IP"], "198.51.100.20")
        self.assertIn("[198.51.100.20]", msg["Received"])

    def test_forwarded_for_unlisted_client_is_denied(self):
        resp = self.server.submit(message(), headers={"X-Forwarded-For": "203.0.113.9"})
        j = self.assertCheck(resp, 403, "AUTH", 500, "5.7.1", "Access denied")
        self.assertEqual(j["remoteaddr"], "203.0.113.9")

    def test_proxy_itself_not_listed(self):
        # without X-Forwarded-For the client is the proxy, 127.0.0.1, which is not listed
        resp = self.server.submit(message())
        self.assertCheck(resp, 403, "AUTH", 500, "5.7.1", "Access denied")

    def test_forwarded_for_split_over_lines_is_read_whole(self):
        # A proxy appends its own X-Forwarded-For line after any the client sent; the
        # client's line must not win just because it comes first.
        body = json.dumps(message()).encode()
        req = (b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"X-Forwarded-For: 198.51.100.20\r\nX-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
        status, headers, payload = parse_raw_response(raw_exchange("127.0.0.1", self.server.port, req))
        self.assertEqual(status, 403, payload)
        j = json.loads(payload)
        self.assertEqual(j["remoteaddr"], "203.0.113.9")
        self.assertEqual(j["response"][0]["command"], "AUTH")

    def test_forwarded_for_chain_takes_the_last_untrusted_hop(self):
        # the client claims 198.51.100.20, but the hop the proxy saw is 203.0.113.9
        resp = self.server.submit(message(), headers={"X-Forwarded-For": "198.51.100.20, 203.0.113.9"})
        j = self.assertCheck(resp, 403, "AUTH", 500, "5.7.1", "Access denied")
        self.assertEqual(j["remoteaddr"], "203.0.113.9")


class NotANumberRcpts(HainekoTestCase):
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_rcpts_per_message": "many"}}}

    def test_conf_not_looks_like_number(self):
        resp = self.server.submit(message())
        self.assertCheck(resp, 500, "CONF", 500, None, "does not look like number")


class NotANumberWorkers(HainekoTestCase):
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_workers": "lots"}}}

    def test_one_recipient_does_not_need_max_workers(self):
        self.assertEqual(self.server.submit(message()).status, 200)

    def test_two_recipients_answer_500(self):
        resp = self.server.submit(message(rcpt=["a@example.jp", "b@example.jp"]))
        self.assertCheck(resp, 500, "CONF", 500, None, "does not look like number")


class LogLines(HainekoTestCase):
    def test_client_text_cannot_forge_a_log_line(self):
        forged = "queueid=FORGED client=10.0.0.1:1 status=200 from=<ceo@example.org>"
        resp = self.server.submit(message(mail="x\n2026-01-01T00:00:00.000+00:00 haineko[1] info: " + forged))
        self.assertEqual(resp.status, 400)
        resp = self.server.submit(message(rcpt=["a@example.jp", "bad\r\n" + forged + "@x"]))
        self.assertEqual(resp.status, 200)
        time.sleep(0.2)
        for line in self.server.stderr_text().splitlines():
            self.assertFalse(line.startswith("2026-01-01") or line.startswith("queueid=FORGED"), line)
        self.assertIn("\\x0a", self.server.stderr_text())


class NotANumberSize(HainekoTestCase):
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_message_size": "4MB"}}}

    def test_conf_not_looks_like_number(self):
        resp = self.server.submit(message())
        self.assertCheck(resp, 500, "CONF", 500, None, "does not look like number")


class DevelMode(HainekoTestCase):
    """-d: GET /submit with query parameters relays; max_rcpts_per_message 0 is unlimited."""
    args = ("-d",)
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME, "max_rcpts_per_message": 0}}}

    def test_get_submit_with_query(self):
        q = urllib.parse.urlencode([("ehlo", "client.example.net"), ("mail", "get@example.org"),
                                    ("rcpt", "get1@example.jp"), ("rcpt", "get2@example.com"),
                                    ("header.subject", "GET ねこ"), ("body", "GET body")])
        resp = self.server.request("GET", "/submit?" + q)
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["addresser"], "get@example.org")
        self.assertEqual(resp.json["recipient"], ["get1@example.jp", "get2@example.com"])
        files = self.server.messages_for(resp.json["queueid"])
        self.assertEqual(len(files), 2)
        self.assertEqual(files[0][2]["Subject"], "GET ねこ")

    def test_get_submit_checks_still_apply(self):
        q = urllib.parse.urlencode({"ehlo": "", "mail": "get@example.org", "rcpt": "get1@example.jp"})
        resp = self.server.request("GET", "/submit?" + q)
        self.assertCheck(resp, 400, "EHLO", 501, "5.0.0", "EHLO requires domain address")

    def test_post_still_works(self):
        resp = self.server.submit(message())
        self.assertEqual(resp.status, 200, resp)

    def test_unlimited_recipients(self):
        rcpts = ["u%d@example.jp" % i for i in range(9)]
        resp = self.server.submit(message(rcpt=rcpts))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["recipient"], rcpts)
        self.assertEqual(len(self.server.messages_for(resp.json["queueid"])), 9)


class DevelModeByEnvironment(HainekoTestCase):
    env = {"HAINEKO_DEBUG": "1"}

    def test_get_submit_with_query(self):
        q = urllib.parse.urlencode({"ehlo": "client.example.net", "mail": "env@example.org",
                                    "rcpt": "env@example.jp", "header.subject": "env", "body": "b"})
        resp = self.server.request("GET", "/submit?" + q)
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)


if __name__ == "__main__":
    unittest.main()
