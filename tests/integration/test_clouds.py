"""The email-cloud mailers (SendGrid, AmazonSES, Mandrill, Postmark, Mailgun) against a
recording HTTP server standing in for each cloud's API: what Haineko sends (method,
path, credentials, body) and how each answer comes back per recipient."""

import base64
import datetime
import json
import secrets
import shutil
import tempfile
import time
import unittest

from cloud_peer import (Answer, CloudPeer, check_sigv4, form_field_name, make_ca, make_server_cert, parse_mime,
                        server_tls_context, sigv4_signature, split_form_data)
from harness import HOSTNAME, HainekoTestCase, free_port, message

# Secrets made up for this run: they must reach the peer and nothing else.
SG_KEY = "SG.it-" + secrets.token_hex(12)
SES_AKID = "AKIAIT" + secrets.token_hex(7).upper()
SES_SECRET = "ses/secret+" + secrets.token_hex(14)
MD_KEY = "md-it-" + secrets.token_hex(11)
PM_TOKEN = "pm-it-" + secrets.token_hex(12)
MG_KEY = "key-it-" + secrets.token_hex(12)
MG_DOMAIN = "mg.example.org"
SECRETS = [SG_KEY, SES_SECRET, MD_KEY, PM_TOKEN, MG_KEY, base64.b64encode(("api:" + MG_KEY).encode()).decode()]

AUTHINFO = {
    "sendgrid": {"password": SG_KEY},
    "ses": {"username": SES_AKID, "password": SES_SECRET},
    "ses-nouser": {"password": SES_SECRET},
    "mandrill": {"password": MD_KEY},
    "mandrill-nopass": {"username": "somebody"},
    "postmark": {"password": PM_TOKEN},
    "mailgun": {"username": "api", "password": MG_KEY},
}

SUBJECT = "Cloud relay test"
BODY = "Hello from the cloud tests.\nSecond line."
FROM = "Sender <sender@example.org>"
REPLYTO = "List <list@example.org>"
REFERER = "http://app.example.net/form"
USER_AGENT = "haineko-it/1.0"  # what the harness sends

TAGS = {"sg": "SendGrid", "ses": "AmazonSES", "md": "Mandrill", "pm": "Postmark", "mg": "Mailgun"}
AUTH_OF = {"sg": "sendgrid", "ses": "ses", "md": "mandrill", "pm": "postmark", "mg": "mailgun"}


def submission(rcpts, **kw):
    header = {"from": FROM, "subject": SUBJECT, "replyto": REPLYTO}
    header.update(kw.pop("header", {}))
    return message(rcpt=rcpts, header=header, body=kw.pop("body", BODY), **kw)


def normalized_body(msg):
    return msg.get_content().replace("\r\n", "\n").rstrip("\n")


class CloudCase(HainekoTestCase):
    start_server = False
    peers = {}

    def send(self, rcpts, headers=None, **kw):
        """Submits; returns (the answer's JSON, seconds taken)."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        started = time.monotonic()
        resp = self.server.submit(submission(rcpts, **kw), headers=headers, timeout=60)
        took = time.monotonic() - started
        self.assertJsonAnswer(resp)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.json["response"]), len(rcpts), resp.json)
        return resp.json, took

    def assertEntry(self, entry, rcpt, mailer, port, code, dsn):
        self.assertEqual(entry["rcpt"], rcpt, entry)
        self.assertEqual(entry["mailer"], mailer, entry)
        self.assertEqual(entry["host"], "127.0.0.1", entry)
        self.assertEqual(entry["port"], port, entry)
        self.assertIsInstance(entry["code"], int, entry)
        self.assertEqual((entry["code"], entry["dsn"]), (code, dsn), entry)
        self.assertEqual(entry["error"], 0 if code < 400 else 1, entry)
        self.assertIsInstance(entry["message"], list, entry)
        self.assertTrue(entry["message"], entry)

    def node_id(self):
        """This server's name in X-Haineko-Loop: host name and port."""
        return "%s:%d" % (HOSTNAME, self.server.port)

    def assertMessageMentions(self, entry, text):
        self.assertTrue(any(text in m for m in entry["message"]), "%r not in %r" % (text, entry))

    def custom_headers(self, referer=False):
        h = {"X-Mailer": USER_AGENT, "X-SMTP-Engine": "Haineko " + self.version, "X-Haineko-Loop": self.node_id(),
             "X-Originating-IP": "127.0.0.1"}
        if referer:
            h["X-HTTP-Referer"] = REFERER
        return h

    def assertMime(self, raw, rcpt, subject=SUBJECT, body=BODY):
        msg = parse_mime(raw)
        self.assertEqual(str(msg["To"]), rcpt)
        self.assertEqual(str(msg["Subject"]), subject)
        self.assertEqual(msg["From"].addresses[0].addr_spec, "sender@example.org")
        self.assertEqual(msg["From"].addresses[0].display_name, "Sender")
        self.assertEqual(msg["Reply-To"].addresses[0].addr_spec, "list@example.org")
        self.assertEqual(str(msg["X-Haineko-Loop"]), self.node_id())
        self.assertRegex(str(msg["Message-Id"]), r"^<[0-9A-Za-z]{16}\.")
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(normalized_body(msg), body)
        return msg


class CloudMailers(CloudCase):
    """One Haineko, one recording peer per cloud."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peers = {}
        for tag in TAGS:
            peer = CloudPeer(name=tag).start()
            cls.addClassCleanup(peer.stop)
            cls.peers[tag] = peer
        # closes kept-alive connections after 0.3 s of quiet, as real APIs do
        cls.peers["idle"] = CloudPeer(name="idle", idle_timeout=0.3).start()
        cls.addClassCleanup(cls.peers["idle"].stop)
        cls.closed_port = free_port()
        table = {}
        domains = []

        def route(rcpt_domain, tag, **keys):
            entry = {"mailer": TAGS[tag], "auth": AUTH_OF[tag], "endpoint": cls.peers[tag].url}
            if tag == "mg":
                entry["domain"] = MG_DOMAIN
            entry.update(keys)
            table[rcpt_domain] = {k: v for k, v in entry.items() if v is not None}
            domains.append(rcpt_domain)

        for tag in TAGS:
            # retries 429/5xx once after 1 s
            route(tag + ".example.jp", tag, timeout=10, retry=1, sleep=1)
            # gives up after 2 s, no retry
            route("slow-" + tag + ".example.jp", tag, timeout=2, retry=0)
        route("eu-ses.example.jp", "ses", region="eu-west-1", timeout=10)
        # endpoints with a path: it replaces the API's default base path
        route("path-sg.example.jp", "sg", endpoint=cls.peers["sg"].url + "/sgproxy/v3", timeout=10)
        route("path-md.example.jp", "md", endpoint=cls.peers["md"].url + "/mandrill/api/1.0/", timeout=10)
        route("path-mg.example.jp", "mg", endpoint=cls.peers["mg"].url + "/mgproxy/v3", timeout=10)
        route("path-pm.example.jp", "pm", endpoint=cls.peers["pm"].url + "/postmark", timeout=10)
        route("path-ses.example.jp", "ses", endpoint=cls.peers["ses"].url + "/sesproxy", timeout=10)
        # missing credentials
        route("unknown-auth-sg.example.jp", "sg", auth="no-such-entry")
        route("no-auth-pm.example.jp", "pm", auth=None)
        route("no-user-ses.example.jp", "ses", auth="ses-nouser")
        route("no-pass-md.example.jp", "md", auth="mandrill-nopass")
        route("no-domain-mg.example.jp", "mg", domain=None)
        route("idle-sg.example.jp", "sg", endpoint=cls.peers["idle"].url, timeout=5)
        # no scheme: not a usable endpoint
        route("bad-endpoint-pm.example.jp", "pm", endpoint="127.0.0.1:%d" % cls.peers["pm"].port)
        # nobody listens
        route("down-sg.example.jp", "sg", endpoint="http://127.0.0.1:%d" % cls.closed_port, timeout=3)

        srv = cls.make_server(start=False, etc={
            "mailertable": table,
            "authinfo": AUTHINFO,
            "recipients": {"domainpart": domains},
        })
        srv.write_etc("authinfo", AUTHINFO, mode=0o600)
        srv.start()
        cls.addClassCleanup(cls._stop_checked, srv)
        cls.server = srv
        cls.version = srv.request("GET", "/").json["version"]

    def setUp(self):
        for peer in self.peers.values():
            peer.reset(default=Answer(500, {"message": "no answer queued for this test"}))

    def only_request(self, tag, count=1):
        got = self.peers[tag].received()
        self.assertEqual(len(got), count, got)
        for other, peer in self.peers.items():
            if other != tag:
                self.assertEqual(peer.received(), [], "peer %s got requests" % other)
        return got[0] if count == 1 else got

    # ---------------- SendGrid ----------------
    def sendgrid_body(self, rcpt, referer=False, subject=SUBJECT, body=BODY, from_name="Sender"):
        return {
            "personalizations": [{"to": [{"email": rcpt}]}],
            "from": {"email": "sender@example.org", "name": from_name},
            "reply_to": {"email": "list@example.org", "name": "List"},
            "subject": subject,
            "content": [{"type": "text/plain", "value": body}],
            "headers": self.custom_headers(referer),
        }

    def assertSendGridRequest(self, req, rcpt, **kw):
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.target, kw.pop("target", "/v3/mail/send"))
        self.assertEqual(req.header("Authorization"), "Bearer " + SG_KEY)
        self.assertEqual(req.header("Content-Type"), "application/json")
        self.assertEqual(req.header("Host"), "127.0.0.1:%d" % self.peers["sg"].port)
        self.assertEqual(req.json(), self.sendgrid_body(rcpt, **kw))

    def test_sendgrid_success(self):
        rcpt = "neko@sg.example.jp"
        self.peers["sg"].play(Answer(202, b"", {"X-Message-Id": "sg-msg-0001"}))
        j, _ = self.send(rcpt, headers={"Referer": REFERER})
        self.assertEntry(j["response"][0], rcpt, "SendGrid", self.peers["sg"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "sg-msg-0001")
        self.assertSendGridRequest(self.only_request("sg"), rcpt, referer=True)

    def test_sendgrid_utf8_and_two_recipients(self):
        rcpts = ["tama@sg.example.jp", "mike@sg.example.jp"]
        subject, body, name = "件名 ねこ", "本文です。\nにゃー", "送信者"
        self.peers["sg"].reset(default=Answer(202, b"", {"X-Message-Id": "sg-msg-many"}))
        j, _ = self.send(rcpts, header={"subject": subject, "from": name + " <sender@example.org>"}, body=body)
        for rcpt, entry in zip(rcpts, j["response"]):
            self.assertEntry(entry, rcpt, "SendGrid", self.peers["sg"].port, 250, "2.0.0")
        got = self.only_request("sg", count=2)
        by_rcpt = {r.json()["personalizations"][0]["to"][0]["email"]: r for r in got}
        self.assertEqual(sorted(by_rcpt), sorted(rcpts))
        for rcpt in rcpts:
            self.assertSendGridRequest(by_rcpt[rcpt], rcpt, subject=subject, body=body, from_name=name)

    def test_sendgrid_400(self):
        rcpt = "bad@sg.example.jp"
        text = "The from address does not match a verified Sender Identity."
        self.peers["sg"].play(Answer(400, {"errors": [{"message": text, "field": "from", "help": None}]}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "SendGrid", self.peers["sg"].port, 554, "5.0.0")
        self.assertMessageMentions(entry, text)
        self.only_request("sg")  # a permanent error is not retried

    def test_sendgrid_401(self):
        rcpt = "denied@sg.example.jp"
        text = "The provided authorization grant is invalid, expired, or revoked"
        self.peers["sg"].play(Answer(401, {"errors": [{"message": text, "field": None, "help": None}]}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "SendGrid", self.peers["sg"].port, 535, "5.7.8")
        self.assertMessageMentions(entry, text)
        self.only_request("sg")

    def test_sendgrid_429_then_success(self):
        rcpt = "busy@sg.example.jp"
        self.peers["sg"].play(Answer(429, {"errors": [{"message": "too many requests"}]}),
                              Answer(202, b"", {"X-Message-Id": "sg-msg-retried"}))
        j, took = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "SendGrid", self.peers["sg"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "sg-msg-retried")
        first, second = self.only_request("sg", count=2)
        self.assertGreaterEqual(second.when - first.when, 0.9, "retry came before the route's sleep: 1")
        self.assertSendGridRequest(first, rcpt)
        self.assertSendGridRequest(second, rcpt)

    def test_sendgrid_timeout(self):
        rcpt = "slow@slow-sg.example.jp"
        self.peers["sg"].play(Answer(202, b"", {"X-Message-Id": "too-late"}, delay=4))
        j, took = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "SendGrid", self.peers["sg"].port, 421, entry["dsn"])
        self.assertRegex(entry["dsn"] or "", r"^4\.")
        self.assertLess(took, 3.8, "the route's timeout is 2 s")
        self.assertGreater(took, 1.5)
        self.only_request("sg")

    def test_sendgrid_connection_refused(self):
        rcpt = "down@down-sg.example.jp"
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "SendGrid", self.closed_port, 421, entry["dsn"])
        self.assertRegex(entry["dsn"] or "", r"^4\.")

    # ---------------- Amazon SES ----------------
    def assertSesRequest(self, req, rcpt, region="us-east-1", path="/v2/email/outbound-emails"):
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.target, path)
        self.assertEqual(req.header("Content-Type"), "application/json")
        self.assertEqual(req.header("Host"), "127.0.0.1:%d" % self.peers["ses"].port)
        amz_date = req.header("X-Amz-Date")
        self.assertRegex(amz_date or "", r"^\d{8}T\d{6}Z$")
        sent = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        self.assertLess(abs((datetime.datetime.now(datetime.timezone.utc) - sent).total_seconds()), 300)
        fields, expected = check_sigv4(req, SES_SECRET)
        self.assertEqual(fields["akid"], SES_AKID)
        self.assertEqual(fields["date"], amz_date[:8])
        self.assertEqual(fields["region"], region)
        self.assertEqual(fields["service"], "ses")
        self.assertEqual(fields["signed"], "content-type;host;x-amz-date")
        self.assertEqual(fields["signature"], expected, "SigV4 signature does not match the request received")
        body = req.json()
        self.assertEqual(set(body), {"FromEmailAddress", "Destination", "Content"}, body)
        self.assertEqual(body["FromEmailAddress"], "sender@example.org")
        self.assertEqual(body["Destination"], {"ToAddresses": [rcpt]})
        self.assertEqual(set(body["Content"]), {"Raw"})
        self.assertEqual(set(body["Content"]["Raw"]), {"Data"})
        raw = base64.b64decode(body["Content"]["Raw"]["Data"], validate=True)
        self.assertMime(raw, rcpt)

    def test_ses_signature_checker(self):
        """The checker itself: AWS's published get-vanilla vector, and a tampered body fails."""
        self.assertEqual(sigv4_signature("GET", "/", "", {"host": "example.amazonaws.com",
                                                          "x-amz-date": "20150830T123600Z"},
                                         ["host", "x-amz-date"], b"", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                         "20150830T123600Z", "us-east-1", "service"),
                         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        self.peers["ses"].play(Answer(200, {"MessageId": "x"}))
        self.send("check@ses.example.jp")
        req = self.only_request("ses")
        req.body = req.body.replace(b"sender@example.org", b"sender@example.com", 1)
        fields, expected = check_sigv4(req, SES_SECRET)
        self.assertNotEqual(fields["signature"], expected)

    def test_ses_success(self):
        rcpt = "neko@ses.example.jp"
        self.peers["ses"].play(Answer(200, {"MessageId": "0100018f-ses-0001"}))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "AmazonSES", self.peers["ses"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "0100018f-ses-0001")
        self.assertSesRequest(self.only_request("ses"), rcpt)

    def test_ses_region(self):
        rcpt = "eu@eu-ses.example.jp"
        self.peers["ses"].play(Answer(200, {"MessageId": "eu-0001"}))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "AmazonSES", self.peers["ses"].port, 250, "2.0.0")
        self.assertSesRequest(self.only_request("ses"), rcpt, region="eu-west-1")

    def test_ses_403(self):
        rcpt = "denied@ses.example.jp"
        text = "The security token included in the request is invalid."
        self.peers["ses"].play(Answer(403, {"message": text}, {"x-amzn-ErrorType": "UnrecognizedClientException"}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "AmazonSES", self.peers["ses"].port, 535, "5.7.8")
        self.assertMessageMentions(entry, text)
        self.only_request("ses")

    def test_ses_400(self):
        rcpt = "bad@ses.example.jp"
        text = "Email address is not verified. The following identities failed the check"
        self.peers["ses"].play(Answer(400, {"message": text}, {"x-amzn-ErrorType": "MessageRejected"}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "AmazonSES", self.peers["ses"].port, 554, "5.0.0")
        self.assertMessageMentions(entry, text)
        self.only_request("ses")

    def test_ses_429_then_success(self):
        rcpt = "busy@ses.example.jp"
        self.peers["ses"].play(Answer(429, {"message": "Maximum sending rate exceeded."}),
                               Answer(200, {"MessageId": "ses-retried"}))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "AmazonSES", self.peers["ses"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "ses-retried")
        first, second = self.only_request("ses", count=2)
        self.assertGreaterEqual(second.when - first.when, 0.9)
        self.assertSesRequest(first, rcpt)
        self.assertSesRequest(second, rcpt)

    def test_ses_timeout(self):
        rcpt = "slow@slow-ses.example.jp"
        self.peers["ses"].play(Answer(200, {"MessageId": "too-late"}, delay=4))
        j, took = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "AmazonSES", self.peers["ses"].port, 421, entry["dsn"])
        self.assertLess(took, 3.8)
        self.only_request("ses")

    # ---------------- Mandrill ----------------
    def assertMandrillRequest(self, req, rcpt, target="/api/1.0/messages/send.json"):
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.target, target)
        self.assertEqual(req.header("Content-Type"), "application/json")
        self.assertIsNone(req.header("Authorization"))
        headers = self.custom_headers()
        headers["Reply-To"] = REPLYTO
        self.assertEqual(req.json(), {
            "key": MD_KEY,
            "message": {"text": BODY, "subject": SUBJECT, "from_email": "sender@example.org", "from_name": "Sender",
                        "to": [{"email": rcpt, "type": "to"}], "headers": headers},
        })

    def test_mandrill_success(self):
        rcpt = "neko@md.example.jp"
        self.peers["md"].play(Answer(200, [{"email": rcpt, "status": "sent", "_id": "md-0001",
                                            "reject_reason": None}]))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "Mandrill", self.peers["md"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "md-0001")
        self.assertMandrillRequest(self.only_request("md"), rcpt)

    def test_mandrill_rejected(self):
        rcpt = "bounced@md.example.jp"
        self.peers["md"].play(Answer(200, [{"email": rcpt, "status": "rejected", "_id": "md-rej",
                                            "reject_reason": "hard-bounce"}]))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Mandrill", self.peers["md"].port, 550, entry["dsn"])
        self.assertRegex(entry["dsn"] or "", r"^5\.")
        self.assertMessageMentions(entry, "hard-bounce")
        self.only_request("md")

    def test_mandrill_401(self):
        rcpt = "denied@md.example.jp"
        self.peers["md"].play(Answer(401, {"status": "error", "code": -1, "name": "Invalid_Key",
                                           "message": "Invalid API key"}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Mandrill", self.peers["md"].port, 535, "5.7.8")
        self.assertMessageMentions(entry, "Invalid API key")
        self.only_request("md")

    def test_mandrill_429_then_success(self):
        rcpt = "busy@md.example.jp"
        self.peers["md"].play(Answer(429, {"status": "error", "name": "Too_Many_Requests", "message": "slow down"}),
                              Answer(200, [{"email": rcpt, "status": "queued", "_id": "md-retried",
                                            "reject_reason": None}]))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "Mandrill", self.peers["md"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "md-retried")
        first, second = self.only_request("md", count=2)
        self.assertGreaterEqual(second.when - first.when, 0.9)
        self.assertMandrillRequest(first, rcpt)
        self.assertMandrillRequest(second, rcpt)

    def test_mandrill_timeout(self):
        rcpt = "slow@slow-md.example.jp"
        self.peers["md"].play(Answer(200, [], delay=4))
        j, took = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Mandrill", self.peers["md"].port, 421, entry["dsn"])
        self.assertLess(took, 3.8)
        self.only_request("md")

    # ---------------- Postmark ----------------
    def assertPostmarkRequest(self, req, rcpt, target="/email"):
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.target, target)
        self.assertEqual(req.header("X-Postmark-Server-Token"), PM_TOKEN)
        self.assertEqual(req.header("Content-Type"), "application/json")
        self.assertEqual(req.header("Accept"), "application/json")
        self.assertIsNone(req.header("Authorization"))
        body = req.json()
        headers = body.pop("Headers", None)
        self.assertEqual(body, {"From": FROM, "To": rcpt, "Subject": SUBJECT, "TextBody": BODY, "ReplyTo": REPLYTO,
                                "MessageStream": "outbound"})
        self.assertIsInstance(headers, list)
        self.assertEqual(sorted((h["Name"], h["Value"]) for h in headers), sorted(self.custom_headers().items()))
        for h in headers:
            self.assertEqual(set(h), {"Name", "Value"})

    def test_postmark_success(self):
        rcpt = "neko@pm.example.jp"
        self.peers["pm"].play(Answer(200, {"To": rcpt, "SubmittedAt": "2026-01-02T03:04:05Z",
                                           "MessageID": "b7bc2f4a-pm-0001", "ErrorCode": 0, "Message": "OK"}))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "Postmark", self.peers["pm"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "b7bc2f4a-pm-0001")
        self.assertPostmarkRequest(self.only_request("pm"), rcpt)

    def test_postmark_422(self):
        rcpt = "bad@pm.example.jp"
        text = "Invalid 'From' address: 'sender@example.org'."
        self.peers["pm"].play(Answer(422, {"ErrorCode": 300, "Message": text}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Postmark", self.peers["pm"].port, 554, "5.0.0")
        self.assertMessageMentions(entry, text)
        self.only_request("pm")

    def test_postmark_503_without_retry(self):
        rcpt = "down@slow-pm.example.jp"
        self.peers["pm"].play(Answer(503, {"ErrorCode": 0, "Message": "Service Unavailable"}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Postmark", self.peers["pm"].port, 451, entry["dsn"])
        self.assertRegex(entry["dsn"] or "", r"^4\.")
        self.assertMessageMentions(entry, "Service Unavailable")
        self.only_request("pm")  # retry: 0

    def test_postmark_429_then_success(self):
        rcpt = "busy@pm.example.jp"
        self.peers["pm"].play(Answer(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}),
                              Answer(200, {"To": rcpt, "MessageID": "pm-retried", "ErrorCode": 0, "Message": "OK"}))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "Postmark", self.peers["pm"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "pm-retried")
        first, second = self.only_request("pm", count=2)
        self.assertGreaterEqual(second.when - first.when, 0.9)
        self.assertPostmarkRequest(first, rcpt)
        self.assertPostmarkRequest(second, rcpt)

    def test_postmark_timeout(self):
        rcpt = "slow@slow-pm.example.jp"
        self.peers["pm"].play(Answer(200, {"MessageID": "too-late"}, delay=4))
        j, took = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Postmark", self.peers["pm"].port, 421, entry["dsn"])
        self.assertLess(took, 3.8)
        self.only_request("pm")

    # ---------------- Mailgun ----------------
    def assertMailgunRequest(self, req, rcpt, target="/v3/%s/messages.mime" % MG_DOMAIN):
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.target, target)
        self.assertEqual(req.header("Authorization"),
                         "Basic " + base64.b64encode(("api:" + MG_KEY).encode()).decode())
        parts = split_form_data(req.header("Content-Type"), req.body)
        self.assertEqual([form_field_name(h) for h, _ in parts], ["to", "message"])
        (to_headers, to_value), (msg_headers, raw) = parts
        self.assertEqual(to_value, rcpt.encode())
        self.assertIn('filename="', msg_headers.get("content-disposition", ""))
        self.assertMime(raw, rcpt)
        # the same form as the email package reads it
        form = parse_mime(b"Content-Type: " + req.header("Content-Type").encode() + b"\r\n\r\n" + req.body)
        self.assertTrue(form.is_multipart())
        self.assertEqual(len(form.get_payload()), 2)

    def test_mailgun_success(self):
        rcpt = "neko@mg.example.jp"
        self.peers["mg"].play(Answer(200, {"id": "<20260102.mg-0001@%s>" % MG_DOMAIN,
                                           "message": "Queued. Thank you."}))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "Mailgun", self.peers["mg"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "<20260102.mg-0001@%s>" % MG_DOMAIN)
        self.assertMailgunRequest(self.only_request("mg"), rcpt)

    def test_mailgun_401(self):
        rcpt = "denied@mg.example.jp"
        self.peers["mg"].play(Answer(401, "Forbidden", {"Content-Type": "text/plain"}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Mailgun", self.peers["mg"].port, 535, "5.7.8")
        self.assertMessageMentions(entry, "Forbidden")
        self.only_request("mg")

    def test_mailgun_400(self):
        rcpt = "bad@mg.example.jp"
        text = "to parameter is not a valid address. please check documentation"
        self.peers["mg"].play(Answer(400, {"message": text}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Mailgun", self.peers["mg"].port, 554, "5.0.0")
        self.assertMessageMentions(entry, text)
        self.only_request("mg")

    def test_mailgun_429_then_success(self):
        rcpt = "busy@mg.example.jp"
        self.peers["mg"].play(Answer(429, {"message": "Too many requests"}),
                              Answer(200, {"id": "<mg-retried@%s>" % MG_DOMAIN, "message": "Queued. Thank you."}))
        j, _ = self.send(rcpt)
        self.assertEntry(j["response"][0], rcpt, "Mailgun", self.peers["mg"].port, 250, "2.0.0")
        self.assertEqual(j["response"][0]["message"][0], "<mg-retried@%s>" % MG_DOMAIN)
        first, second = self.only_request("mg", count=2)
        self.assertGreaterEqual(second.when - first.when, 0.9)
        self.assertMailgunRequest(first, rcpt)
        self.assertMailgunRequest(second, rcpt)

    def test_mailgun_timeout(self):
        rcpt = "slow@slow-mg.example.jp"
        self.peers["mg"].play(Answer(200, {"id": "too-late"}, delay=4))
        j, took = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Mailgun", self.peers["mg"].port, 421, entry["dsn"])
        self.assertLess(took, 3.8)
        self.only_request("mg")

    # ---------------- all clouds ----------------
    def test_5xx_retried_then_given_up(self):
        """retry: 1 → two tries; both 5xx → 451."""
        rcpt = "down@md.example.jp"
        self.peers["md"].play(Answer(500, {"status": "error", "name": "GeneralError", "message": "oops"}),
                              Answer(502, {"status": "error", "name": "GeneralError", "message": "still down"}))
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEntry(entry, rcpt, "Mandrill", self.peers["md"].port, 451, entry["dsn"])
        self.assertMessageMentions(entry, "still down")
        self.only_request("md", count=2)

    def test_endpoint_path_replaces_default_base(self):
        answers = {
            "sg": (Answer(202, b"", {"X-Message-Id": "p-sg"}), "/sgproxy/v3/mail/send"),
            "md": (Answer(200, [{"email": "x", "status": "sent", "_id": "p-md"}]), "/mandrill/api/1.0/messages/send.json"),
            "mg": (Answer(200, {"id": "p-mg"}), "/mgproxy/v3/%s/messages.mime" % MG_DOMAIN),
            "pm": (Answer(200, {"MessageID": "p-pm"}), "/postmark/email"),
            "ses": (Answer(200, {"MessageId": "p-ses"}), "/sesproxy/v2/email/outbound-emails"),
        }
        for tag, (answer, target) in answers.items():
            with self.subTest(cloud=TAGS[tag]):
                self.setUp()
                self.peers[tag].play(answer)
                rcpt = "path@path-%s.example.jp" % tag
                j, _ = self.send(rcpt)
                self.assertEntry(j["response"][0], rcpt, TAGS[tag], self.peers[tag].port, 250, "2.0.0")
                self.assertEqual(j["response"][0]["message"][0], "p-" + tag)
                req = self.only_request(tag)
                self.assertEqual(req.target, target)
                if tag == "ses":
                    self.assertSesRequest(req, rcpt, path=target)  # the signature covers the full path
                elif tag == "sg":
                    self.assertSendGridRequest(req, rcpt, target=target)
                elif tag == "md":
                    self.assertMandrillRequest(req, rcpt, target=target)
                elif tag == "mg":
                    self.assertMailgunRequest(req, rcpt, target=target)
                else:
                    self.assertPostmarkRequest(req, rcpt, target=target)

    def test_missing_credentials_send_nothing(self):
        cases = [
            ("x@unknown-auth-sg.example.jp", "sg"),   # auth names no authinfo entry
            ("x@no-auth-pm.example.jp", "pm"),        # route without auth
            ("x@no-user-ses.example.jp", "ses"),      # SES without the access key id
            ("x@no-pass-md.example.jp", "md"),        # entry without a password
            ("x@no-domain-mg.example.jp", "mg"),      # Mailgun without its sending domain
        ]
        for rcpt, tag in cases:
            with self.subTest(rcpt=rcpt):
                self.setUp()
                self.peers[tag].reset(default=Answer(200, {"id": "should-not-happen", "MessageId": "no",
                                                           "MessageID": "no"}))
                j, _ = self.send(rcpt)
                entry = j["response"][0]
                self.assertEntry(entry, rcpt, TAGS[tag], self.peers[tag].port, 530, "5.7.0")
                time.sleep(0.1)
                self.assertEqual(self.peers[tag].received(), [], "a request went out without credentials")

    def test_bad_endpoint_sends_nothing(self):
        rcpt = "x@bad-endpoint-pm.example.jp"
        j, _ = self.send(rcpt)
        entry = j["response"][0]
        self.assertEqual(entry["error"], 1, entry)
        self.assertEqual(entry["code"] // 100, 5, entry)
        self.assertEqual(entry["mailer"], "Postmark", entry)
        self.assertMessageMentions(entry, "127.0.0.1:%d" % self.peers["pm"].port)
        time.sleep(0.1)
        self.assertEqual(self.peers["pm"].received(), [])

    def test_connection_closed_by_peer_is_reopened(self):
        """The API closes a kept-alive connection (after idling, or with Connection: close):
        the next message goes out on a new one."""
        peer = self.peers["idle"]
        peer.reset(default=Answer(202, b"", {"X-Message-Id": "idle-ok"}))
        peer.play(Answer(202, b"", {"X-Message-Id": "idle-ok"}),
                  Answer(202, b"", {"X-Message-Id": "idle-ok", "Connection": "close"}))
        for n in range(4):
            rcpt = "idle%d@idle-sg.example.jp" % n
            j, _ = self.send(rcpt)
            self.assertEntry(j["response"][0], rcpt, "SendGrid", peer.port, 250, "2.0.0")
            time.sleep(0.6 if n == 0 else 0.05)
        got = peer.received()
        self.assertEqual([r.json()["personalizations"][0]["to"][0]["email"] for r in got],
                         ["idle%d@idle-sg.example.jp" % n for n in range(4)])

    def test_conf_masks_authinfo(self):
        resp = self.server.request("GET", "/conf")
        self.assertEqual(resp.status, 200, resp)
        data = resp.json["authinfo"]["data"]
        self.assertEqual(data["sendgrid"], {"password": "********"})
        self.assertEqual(data["ses"], {"username": SES_AKID[0] + "*******", "password": "********"})
        self.assertEqual(data["mailgun"], {"username": "a*******", "password": "********"})
        self.assertEqual(data["mandrill-nopass"], {"username": "s*******"})
        text = resp.body.decode("utf-8")
        for secret in SECRETS + [SES_AKID]:
            self.assertNotIn(secret, text)

    def test_zz_credentials_never_logged(self):
        """After requests to every cloud (successes and refusals), the log holds no secret."""
        for tag in TAGS:
            self.peers[tag].play(Answer(401, {"message": "Unauthorized"}))
        for tag in TAGS:
            self.send("log@%s.example.jp" % tag)
        time.sleep(0.2)
        log = self.server.stderr_text()
        self.assertIn("log@sg.example.jp", log, "the server logs nothing: this check would prove nothing")
        for secret in SECRETS:
            self.assertNotIn(secret, log)


class CloudOverTls(CloudCase):
    """SendGrid over HTTPS with a certificate from a test CA."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = tempfile.mkdtemp(prefix="haineko-it-ca-")
        cls.addClassCleanup(shutil.rmtree, cls.certs, True)
        cls.ca = make_ca(cls.certs)
        good = make_server_cert(cls.certs, "good", "IP:127.0.0.1,DNS:localhost")
        wrong = make_server_cert(cls.certs, "wrong", "DNS:wrong.example.net")
        ok = Answer(202, b"", {"X-Message-Id": "sg-tls-0001"})
        cls.peers = {"good": CloudPeer(default=ok, tls_context=server_tls_context(*good), name="tls-good").start(),
                     "wrong": CloudPeer(default=ok, tls_context=server_tls_context(*wrong), name="tls-wrong").start()}
        for peer in cls.peers.values():
            cls.addClassCleanup(peer.stop)

        def routes():
            base = {"mailer": "SendGrid", "auth": "sendgrid", "timeout": 5}
            return {
                "tls.example.jp": dict(base, endpoint=cls.peers["good"].url),
                "name.example.jp": dict(base, endpoint="https://localhost:%d" % cls.peers["good"].port),
                "wrong.example.jp": dict(base, endpoint=cls.peers["wrong"].url),
                "noverify.example.jp": dict(base, endpoint=cls.peers["good"].url, tls_verify=0),
            }
        domains = ["tls.example.jp", "name.example.jp", "wrong.example.jp", "noverify.example.jp"]
        etc = {"mailertable": routes(), "authinfo": AUTHINFO, "recipients": {"domainpart": domains}}
        cls.with_ca = cls.make_server(etc=dict(etc, **{"haineko.cf": {"smtpd": {"hostname": HOSTNAME,
                                                                               "tls_ca_file": cls.ca}}}))
        cls.without_ca = cls.make_server(etc=etc)
        cls.version = cls.with_ca.request("GET", "/").json["version"]

    def setUp(self):
        for peer in self.peers.values():
            peer.reset()

    def tls_send(self, server, rcpt):
        self.server = server
        return self.send(rcpt)[0]["response"][0]

    def test_with_ca_file(self):
        rcpt = "neko@tls.example.jp"
        entry = self.tls_send(self.with_ca, rcpt)
        self.assertEntry(entry, rcpt, "SendGrid", self.peers["good"].port, 250, "2.0.0")
        self.assertEqual(entry["message"][0], "sg-tls-0001")
        got = self.peers["good"].received()
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0].target, "/v3/mail/send")
        self.assertEqual(got[0].header("Authorization"), "Bearer " + SG_KEY)
        self.assertEqual(got[0].json()["personalizations"], [{"to": [{"email": rcpt}]}])

    def test_with_ca_file_by_host_name(self):
        rcpt = "neko@name.example.jp"
        entry = self.tls_send(self.with_ca, rcpt)
        self.assertEqual(entry["host"], "localhost", entry)
        self.assertEqual((entry["code"], entry["error"]), (250, 0), entry)
        self.assertEqual(len(self.peers["good"].received()), 1)

    def test_wrong_host_name_refused(self):
        rcpt = "neko@wrong.example.jp"
        entry = self.tls_send(self.with_ca, rcpt)
        self.assertEntry(entry, rcpt, "SendGrid", self.peers["wrong"].port, 421, entry["dsn"])
        self.assertEqual(self.peers["wrong"].received(), [])

    def test_without_ca_file_refused(self):
        rcpt = "neko@tls.example.jp"
        entry = self.tls_send(self.without_ca, rcpt)
        self.assertEntry(entry, rcpt, "SendGrid", self.peers["good"].port, 421, entry["dsn"])
        self.assertMessageMentions(entry, "certificate verify failed")
        self.assertEqual(self.peers["good"].received(), [])

    def test_without_ca_file_tls_verify_off(self):
        rcpt = "neko@noverify.example.jp"
        entry = self.tls_send(self.without_ca, rcpt)
        self.assertEntry(entry, rcpt, "SendGrid", self.peers["good"].port, 250, "2.0.0")
        self.assertEqual(len(self.peers["good"].received()), 1)


if __name__ == "__main__":
    unittest.main()


class QueuedContent(CloudCase):
    """A /v1 message (kept whole in the queue) reaches the JSON clouds as its text, HTML,
    attachments and Reply-To, read back from its MIME."""

    TEXT = "Plain body 猫\nsecond line\n"
    HTML = "<p>HTML body <img src=\"cid:logo\"></p>\n"
    LOGO = b"\x89PNG\r\n\x1a\n\x00\x01binary"
    PDF = b"%PDF-1.4 invoice"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peers = {tag: CloudPeer(name=tag).start() for tag in ("sg", "pm", "md")}
        for peer in cls.peers.values():
            cls.addClassCleanup(peer.stop)
        table = {"%s.example.jp" % tag: {"mailer": TAGS[tag], "auth": AUTH_OF[tag], "endpoint": peer.url, "timeout": 10}
                 for tag, peer in cls.peers.items()}
        srv = cls.make_server(start=False, etc={"haineko.cf": {"smtpd": {"hostname": HOSTNAME},
                                                               "queue": {"min_backoff": 60}},
                                                "mailertable": table, "authinfo": AUTHINFO,
                                                "recipients": {"domainpart": list(table)}})
        srv.write_etc("authinfo", AUTHINFO, mode=0o600)
        srv.start()
        cls.addClassCleanup(cls._stop_checked, srv)
        cls.server = srv

    def deliver(self, tag, answer):
        self.peers[tag].reset()
        self.peers[tag].play(answer)
        payload = {"from": "Sender <sender@example.org>", "to": "neko@%s.example.jp" % tag, "subject": "Queued",
                   "reply_to": "support@example.org", "text": self.TEXT, "html": self.HTML,
                   "attachments": [{"filename": "logo.png", "content_type": "image/png", "content_id": "logo",
                                    "content": base64.b64encode(self.LOGO).decode()},
                                   {"filename": "請求書.pdf", "content_type": "application/pdf",
                                    "content": base64.b64encode(self.PDF).decode()}]}
        resp = self.server.request("POST", "/v1/messages", body=json.dumps(payload),
                                   headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, 202, resp.body)
        mid = resp.json["id"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status = self.server.request("GET", "/v1/messages/" + mid).json["status"]
            if status != "pending":
                break
            time.sleep(0.1)
        self.assertEqual(status, "delivered")
        got = self.peers[tag].received()
        self.assertEqual(len(got), 1, got)
        return got[0].json()

    def test_sendgrid_gets_text_html_and_attachments(self):
        body = self.deliver("sg", Answer(202, b"", {"X-Message-Id": "sg-q-1"}))
        self.assertEqual(body["content"], [{"type": "text/plain", "value": self.TEXT},
                                           {"type": "text/html", "value": self.HTML}])
        self.assertEqual(body["reply_to"], {"email": "support@example.org"})
        logo, pdf = body["attachments"]
        self.assertEqual((logo["filename"], logo["type"], logo["disposition"], logo["content_id"]),
                         ("logo.png", "image/png", "inline", "logo"))
        self.assertEqual(base64.b64decode(logo["content"]), self.LOGO)
        self.assertEqual((pdf["filename"], pdf["disposition"]), ("請求書.pdf", "attachment"))
        self.assertEqual(base64.b64decode(pdf["content"]), self.PDF)

    def test_postmark_gets_text_html_and_attachments(self):
        body = self.deliver("pm", Answer(200, {"MessageID": "pm-q-1", "ErrorCode": 0}))
        self.assertEqual((body["TextBody"], body["HtmlBody"], body["ReplyTo"]),
                         (self.TEXT, self.HTML, "support@example.org"))
        self.assertEqual([(a["Name"], a["ContentType"], a.get("ContentID")) for a in body["Attachments"]],
                         [("logo.png", "image/png", "cid:logo"), ("請求書.pdf", "application/pdf", None)])
        self.assertEqual(base64.b64decode(body["Attachments"][1]["Content"]), self.PDF)

    def test_mandrill_gets_text_html_images_and_attachments(self):
        body = self.deliver("md", Answer(200, [{"email": "neko@md.example.jp", "status": "sent", "_id": "md-q-1",
                                                "reject_reason": None}]))
        m = body["message"]
        self.assertEqual((m["text"], m["html"]), (self.TEXT, self.HTML))
        self.assertEqual(m["images"][0]["name"], "logo")
        self.assertEqual(base64.b64decode(m["images"][0]["content"]), self.LOGO)
        self.assertEqual(m["attachments"][0]["name"], "請求書.pdf")
        self.assertEqual(m["headers"]["Reply-To"], "support@example.org")
