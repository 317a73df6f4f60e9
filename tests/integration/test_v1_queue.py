"""The queued API, /v1 (api-v1.md), against real SMTP peers: accepted at once (202 after the
commit), delivered in the background with one transaction per route, deferred and tried
again, bounced with an RFC 3464 report to the sender, held by send_at, replayed by
Idempotency-Key, held, released, cancelled; and every error in its shape."""

import base64
import email
import hashlib
import hmac
import http.server
import threading
import email.policy
import json
import os
import re
import time
import unittest

from harness import HOSTNAME, HainekoTestCase, basic_auth, free_port, message, run_ctl
from peers import AioPeer, SmtpSink, wait_for

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def queue_cf(**queue):
    settings = {"min_backoff": 1, "max_backoff": 2}
    settings.update(queue)
    return {"smtpd": {"hostname": HOSTNAME}, "queue": settings}


def esmtp_to(port):
    return {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": port, "timeout": 5}}


class V1Client:
    """POST and GET /v1 on a server, answers as (status, headers, JSON)."""

    def post(self, payload, headers=None, path="/v1/messages"):
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        return self.server.request("POST", path, body=body, headers=hdrs)

    def get(self, path, headers=None):
        return self.server.request("GET", path, headers=headers)

    def message(self, mid):
        resp = self.get("/v1/messages/" + mid)
        self.assertEqual(resp.status, 200, resp.body)
        return resp.json

    def wait_status(self, mid, status, timeout=15):
        wait_for(lambda: self.message(mid)["status"] == status, timeout, 0.1)
        m = self.message(mid)
        self.assertEqual(m["status"], status, m)
        return m

    def accepted(self, payload, headers=None):
        resp = self.post(payload, headers)
        self.assertEqual(resp.status, 202, resp.body)
        return resp.json

    def assertError(self, resp, status, code, field=None):
        self.assertEqual(resp.status, status, resp.body)
        j = resp.json
        self.assertEqual(set(j), {"error"})
        self.assertEqual(j["error"]["code"], code, j)
        self.assertTrue(j["error"]["message"])
        if field is None:
            self.assertNotIn("field", j["error"])
        else:
            self.assertEqual(j["error"].get("field"), field, j)


def tempfail_first(address, nth):
    if address.startswith("later@") and nth == 1:
        return "451 4.3.0 Try again later"
    if address.startswith("nobody@"):
        return "550 5.1.1 No such user"
    return None


class Delivery(V1Client, HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = cls.class_peer(AioPeer(rcpt_hook=tempfail_first))
        cls.server = cls.make_server(etc={"haineko.cf": queue_cf(), "mailertable": esmtp_to(cls.peer.port)})

    def test_accepted_then_delivered_in_one_transaction(self):
        # The envelope: to + cc + bcc, the second spelling of first@example.jp (its domain in
        # capitals) left out.
        a = self.accepted({"from": "Kijitora <kijitora@example.jp>",
                           "to": ["first@example.jp", "Tama <tama@example.jp>"], "cc": "mike@example.com",
                           "bcc": ["audit@example.jp", "first@EXAMPLE.JP"], "subject": "Your order",
                           "text": "plain body", "html": "<p>html body</p>",
                           "tags": ["order"], "metadata": {"order_id": "1234"}})
        self.assertRegex(a["id"], ID)
        self.assertEqual(a["status"], "pending")
        self.assertRegex(a["message_id"], r"^<.+@%s>$" % re.escape(HOSTNAME))
        self.assertEqual([r["rcpt"] for r in a["recipients"]],
                         ["first@example.jp", "tama@example.jp", "mike@example.com", "audit@example.jp"])
        self.assertEqual({r["status"] for r in a["recipients"]}, {"queued"})
        m = self.wait_status(a["id"], "delivered")
        self.assertEqual(m["tags"], ["order"])
        self.assertEqual(m["metadata"], {"order_id": "1234"})
        self.assertEqual(m["from"], "kijitora@example.jp")
        self.assertEqual(m["mail"], "kijitora@example.jp")
        self.assertRegex(m["created_at"], RFC3339)
        for r in m["recipients"]:
            self.assertEqual((r["status"], r["attempts"]), ("delivered", 1))
            self.assertEqual(r["route"], {"mailer": "ESMTP", "host": "127.0.0.1", "port": self.peer.port})
            self.assertEqual(r["last_reply"]["code"], "250")
        types = [e["type"] for e in m["events"]]
        self.assertEqual(types, ["accepted"] + ["delivered"] * 4)
        got = [x for x in self.peer.received if "first@example.jp" in x.rcpt_tos]
        self.assertEqual(len(got), 1)
        self.assertEqual(sorted(got[0].rcpt_tos), sorted(r["rcpt"] for r in a["recipients"]))
        msg = email.message_from_bytes(got[0].content, policy=email.policy.default)
        self.assertEqual(msg.defects, [])
        self.assertEqual(msg["Message-Id"], a["message_id"])
        self.assertNotIn("Bcc", msg)
        self.assertNotIn("audit@example.jp", got[0].content.decode())
        self.assertEqual([x.addr_spec for x in msg["To"].addresses], ["first@example.jp", "tama@example.jp"])
        self.assertEqual(msg["Cc"], "mike@example.com")
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        self.assertEqual(msg.get_body(("plain",)).get_content().strip(), "plain body")
        self.assertEqual(msg.get_body(("html",)).get_content().strip(), "<p>html body</p>")

    def test_mime_structures_parse_back(self):
        pdf = base64.b64encode(b"%PDF-1.4 not really").decode()
        png = base64.b64encode(bytes(range(256))).decode()
        a = self.accepted({"from": "黒猫 <kijitora@example.jp>", "to": "mime@example.jp", "subject": "添付ファイル",
                           "text": "本文です。\n" + "x" * 1200, "html": '<p>logo <img src="cid:logo"></p>',
                           "attachments": [{"filename": "logo.png", "content_type": "image/png", "content": png,
                                            "content_id": "logo"},
                                           {"filename": "請求書 2026.pdf", "content_type": "application/pdf",
                                            "content": pdf}],
                           "headers": {"X-Campaign": "秋", "List-Unsubscribe": "<mailto:u@example.jp>"}})
        self.wait_status(a["id"], "delivered")
        got = self.peer.for_rcpt("mime@example.jp")[0]
        msg = email.message_from_bytes(got.content, policy=email.policy.default)
        self.assertEqual(msg.defects, [])
        for line in got.content.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        self.assertEqual(str(msg["Subject"]), "添付ファイル")
        self.assertEqual(msg["From"].addresses[0].display_name, "黒猫")
        self.assertEqual(str(msg["X-Campaign"]), "秋")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        related, attached = msg.get_payload()
        self.assertEqual(related.get_content_type(), "multipart/related")
        alternative, image = related.get_payload()
        self.assertEqual(alternative.get_content_type(), "multipart/alternative")
        self.assertEqual([p.get_content_type() for p in alternative.get_payload()], ["text/plain", "text/html"])
        # Text in canonical form (CRLF) is what base64 carries; the reader keeps the CRLF.
        text = alternative.get_payload()[0].get_content().replace("\r\n", "\n").rstrip("\n")
        self.assertEqual(text, "本文です。\n" + "x" * 1200)
        self.assertEqual(image["Content-ID"], "<logo>")
        self.assertEqual(image.get_content(), bytes(range(256)))
        self.assertEqual(attached.get_filename(), "請求書 2026.pdf")
        self.assertEqual(attached.get_content(), b"%PDF-1.4 not really")
        self.assertEqual(attached.get_content_disposition(), "attachment")

    def test_a_temporary_failure_is_deferred_then_delivered(self):
        a = self.accepted({"from": "kijitora@example.jp", "to": "later@example.jp", "subject": "s", "text": "t"})
        m = self.wait_status(a["id"], "delivered", timeout=20)
        r = m["recipients"][0]
        self.assertEqual(r["attempts"], 2)
        self.assertEqual([e["type"] for e in m["events"]], ["accepted", "deferred", "delivered"])
        deferred = m["events"][1]
        self.assertEqual(deferred["rcpt"], "later@example.jp")
        self.assertEqual(deferred["reply"]["code"], "451")
        self.assertEqual(deferred["reply"]["dsn"], "4.3.0")
        self.assertEqual(deferred["reply"]["command"], "RCPT")

    def test_a_permanent_failure_bounces_with_a_report_to_the_sender(self):
        a = self.accepted({"from": "kijitora@example.jp", "mail": "bounces@example.jp",
                           "to": ["nobody@example.jp", "neko@example.jp"], "subject": "s", "text": "t"})
        m = self.wait_status(a["id"], "partial")
        states = {r["rcpt"]: r["status"] for r in m["recipients"]}
        self.assertEqual(states, {"nobody@example.jp": "bounced", "neko@example.jp": "delivered"})
        self.assertIn("dsn-sent", [e["type"] for e in m["events"]])
        reports = wait_for(lambda: [x for x in self.peer.received if x.rcpt_tos == ["bounces@example.jp"]], 10)
        self.assertEqual(len(reports), 1)
        self.assertEqual(reports[0].mail_from, "<>")
        dsn = email.message_from_bytes(reports[0].content, policy=email.policy.default)
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        self.assertEqual(dsn["From"].addresses[0].addr_spec, "MAILER-DAEMON@" + HOSTNAME)
        parts = [p.get_content_type() for p in dsn.iter_parts()]
        self.assertEqual(parts, ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        status = dsn.get_payload()[1]
        fields = "\n".join(str(block) for block in status.get_payload())
        self.assertIn("Final-Recipient: rfc822; nobody@example.jp", fields)
        self.assertIn("Action: failed", fields)
        self.assertIn("Status: 5.1.1", fields)
        self.assertIn("Reporting-MTA: dns; " + HOSTNAME, str(status))
        self.assertIn(a["message_id"], str(dsn.get_payload()[2]))

    def test_send_at_holds_a_message_until_its_time(self):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
        a = self.accepted({"from": "kijitora@example.jp", "to": "sendat@example.jp", "subject": "s", "text": "t",
                           "send_at": at})
        time.sleep(1)
        m = self.message(a["id"])
        self.assertEqual(m["send_at"], at)
        self.assertEqual(m["recipients"][0]["status"], "queued")
        self.assertEqual(self.peer.for_rcpt("sendat@example.jp"), [])
        self.wait_status(a["id"], "delivered", timeout=10)
        self.assertEqual(len(self.peer.for_rcpt("sendat@example.jp")), 1)

    def test_an_idempotency_key_replays_the_first_answer(self):
        body = {"from": "kijitora@example.jp", "to": "idem@example.jp", "subject": "s", "text": "once"}
        first = self.post(body, {"Idempotency-Key": "order-42"})
        self.assertEqual(first.status, 202)
        again = self.post(body, {"Idempotency-Key": "order-42"})
        self.assertEqual(again.status, 200)
        self.assertEqual(again.json, first.json)
        self.assertEqual(again.header("Location"), first.header("Location"))
        other = dict(body, text="twice")
        self.assertError(self.post(other, {"Idempotency-Key": "order-42"}), 409, "idempotency-conflict",
                         "Idempotency-Key")
        self.wait_status(first.json["id"], "delivered")
        time.sleep(0.5)
        self.assertEqual(len(self.peer.for_rcpt("idem@example.jp")), 1)

    def test_list_queue_and_events(self):
        a = self.accepted({"from": "kijitora@example.jp", "to": "list@example.jp", "subject": "s", "text": "t"})
        self.wait_status(a["id"], "delivered")
        page = self.get("/v1/messages?limit=1").json
        self.assertEqual(len(page["messages"]), 1)
        self.assertNotIn("events", page["messages"][0])
        self.assertNotIn("last_reply", page["messages"][0]["recipients"][0])
        self.assertIsNotNone(page["next"])
        nxt = self.get("/v1/messages?limit=1&after=" + page["next"]).json
        self.assertNotEqual(nxt["messages"][0]["id"], page["messages"][0]["id"])
        delivered = self.get("/v1/messages?status=delivered&limit=1000").json["messages"]
        self.assertIn(a["id"], [x["id"] for x in delivered])
        q = self.get("/v1/queue").json
        self.assertEqual(set(q), {"pending", "by_status", "by_route", "oldest_at"})
        self.assertEqual(set(q["by_status"]), {"queued", "deferred", "held"})
        feed = self.get("/v1/events?after=0&limit=1000").json
        mine = [e for e in feed["events"] if e["id"] == a["id"]]
        self.assertEqual([e["type"] for e in mine], ["accepted", "delivered"])
        self.assertEqual(set(mine[1]), {"seq", "at", "type", "id", "rcpt", "reply", "tags", "metadata"})
        seqs = [e["seq"] for e in feed["events"]]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(feed["next"], seqs[-1])
        self.assertEqual(self.get("/v1/events?after=%d" % feed["next"]).json["events"], [])


class HoldReleaseCancel(V1Client, HainekoTestCase):
    """A relay that is down keeps recipients deferred, so there is time to act on them."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.down_port = free_port()
        cls.server = cls.make_server(etc={"haineko.cf": queue_cf(min_backoff=60, max_backoff=60),
                                          "mailertable": esmtp_to(cls.down_port)})

    def deferred_message(self):
        a = self.accepted({"from": "kijitora@example.jp", "to": ["a@example.jp", "b@example.jp"], "subject": "s",
                           "text": "t"})
        wait_for(lambda: self.message(a["id"])["recipients"][0]["status"] == "deferred", 10, 0.1)
        m = self.message(a["id"])
        self.assertEqual([r["status"] for r in m["recipients"]], ["deferred", "deferred"])
        self.assertRegex(m["recipients"][0]["next_attempt_at"], RFC3339)
        return a["id"]

    def test_hold_release_then_cancel(self):
        mid = self.deferred_message()
        held = self.post({}, path="/v1/messages/%s/hold" % mid)
        self.assertEqual(held.status, 200, held.body)
        self.assertEqual([r["status"] for r in held.json["recipients"]], ["held", "held"])
        self.assertIsNone(held.json["recipients"][0]["next_attempt_at"])
        released = self.post({}, path="/v1/messages/%s/release" % mid).json
        self.assertEqual([r["status"] for r in released["recipients"]], ["deferred", "deferred"])
        # Released means due now: the attempt may be in flight, and a cancel then waits for
        # it to fail (the relay is down) before the recipients are cancelled.
        cancelled = self.server.request("DELETE", "/v1/messages/" + mid)
        self.assertEqual(cancelled.status, 200)
        self.assertIn(cancelled.json["status"], ("pending", "cancelled"))
        types = [e["type"] for e in self.wait_status(mid, "cancelled")["events"]]
        self.assertEqual(types.count("held"), 2)
        self.assertEqual(types.count("released"), 2)
        self.assertEqual(types.count("cancelled"), 2)
        self.assertError(self.post({}, path="/v1/messages/%s/retry" % mid), 409, "not-pending")
        self.assertError(self.server.request("DELETE", "/v1/messages/" + mid), 409, "not-pending")

    def test_the_queue_counts_what_waits(self):
        mid = self.deferred_message()
        q = self.get("/v1/queue").json
        self.assertGreaterEqual(q["pending"], 1)
        self.assertGreaterEqual(q["by_status"]["deferred"], 2)
        route = [r for r in q["by_route"] if r["host"] == "127.0.0.1"][0]
        self.assertEqual(route["mailer"], "ESMTP")
        self.assertRegex(route["oldest_at"], RFC3339)
        self.server.request("DELETE", "/v1/messages/" + mid)

    def test_a_burst_towards_a_dead_relay_is_deferred_at_once(self):
        # Many transactions wait while several sessions are being opened; each refused
        # connection must fail the waiting ones, not start the next opening for ever.
        ids, lock = [], threading.Lock()

        def submit(n):
            for i in range(25):
                a = self.accepted({"from": "kijitora@example.jp", "to": "burst%d-%d@example.jp" % (n, i),
                                   "subject": "s", "text": "t"})
                with lock:
                    ids.append(a["id"])

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(ids), 200)
        deferred = lambda: all(self.message(i)["recipients"][0]["status"] == "deferred" for i in ids)
        self.assertTrue(wait_for(deferred, 20, 0.5), "some recipients never got their first attempt's outcome")
        for i in ids:
            self.server.request("DELETE", "/v1/messages/" + i)

    def test_a_relay_that_comes_back_gets_the_mail_on_retry(self):
        mid = self.deferred_message()
        sink = SmtpSink(port=self.down_port).start()
        self.addCleanup(sink.cleanup)
        retried = self.post({}, path="/v1/messages/%s/retry" % mid)
        self.assertEqual(retried.status, 200)
        self.wait_status(mid, "delivered")
        self.assertEqual(len(sink.wait_for_rcpt("a@example.jp")), 1)
        m = self.message(mid)
        self.assertEqual(m["recipients"][0]["attempts"], 2)
        self.assertEqual([e["type"] for e in m["events"]].count("deferred"), 2)


class Errors(V1Client, HainekoTestCase):
    etc = {"haineko.cf": {"smtpd": {"hostname": HOSTNAME}, "v1": {"max_recipients": 3}}}

    GOOD = {"from": "kijitora@example.jp", "to": "neko@example.jp", "subject": "s", "text": "t"}

    def bad(self, status, code, field, **changes):
        body = dict(self.GOOD)
        for k, v in changes.items():
            if v is None:
                body.pop(k, None)
            else:
                body[k] = v
        self.assertError(self.post(body), status, code, field)

    def test_body_that_is_not_a_json_object(self):
        self.assertError(self.post("{nope"), 400, "malformed-json")
        self.assertError(self.post("[1, 2]"), 400, "malformed-json")
        self.assertError(self.post("{'relaxed': 1}"), 400, "malformed-json")

    def test_missing_fields(self):
        self.bad(400, "missing-field", "from", **{"from": None})
        self.bad(400, "missing-field", "to", to=None)
        self.bad(400, "missing-field", "text", text=None)

    def test_invalid_fields_are_named(self):
        self.bad(400, "invalid-field", "to[1]", to=["neko@example.jp", "not an address"])
        self.bad(400, "invalid-field", "from", **{"from": 42})
        self.bad(400, "invalid-field", "cc", cc="Neko <neko@@example.jp>")
        self.bad(400, "invalid-field", "send_at", send_at="tomorrow")
        self.bad(400, "invalid-field", "headers.Subject", headers={"Subject": "x"})
        self.bad(400, "invalid-field", "headers.Content-Type", headers={"Content-Type": "text/html"})
        self.bad(400, "invalid-field", "headers.X-Bad", headers={"X-Bad": "a\r\nBcc: x@example.jp"})
        self.bad(400, "invalid-field", "headers.X Space", headers={"X Space": "v"})
        self.bad(400, "invalid-field", "attachments[0].content",
                 attachments=[{"filename": "a.txt", "content": "***not base64***"}])
        self.bad(400, "invalid-field", "tags", tags="one")
        self.bad(400, "invalid-field", "metadata.n", metadata={"n": 1})

    def test_limits(self):
        self.bad(413, "too-large", "to", to=["a@example.jp", "b@example.jp", "c@example.jp", "d@example.jp"])
        self.bad(422, "rcpt-rejected", "bcc[0]", bcc="someone@example.org")
        self.bad(422, "rcpt-rejected", "to[1]", to=["neko@example.jp", "someone@example.org"])

    def test_unknown_ids_paths_and_methods(self):
        self.assertError(self.get("/v1/messages/doesnotexist"), 404, "not-found")
        self.assertError(self.get("/v1/nothing"), 404, "not-found")
        resp = self.server.request("PUT", "/v1/messages")
        self.assertError(resp, 405, "method-not-allowed")
        self.assertEqual(resp.header("Allow"), "GET, POST")
        self.assertError(self.get("/v1/messages?limit=0"), 400, "invalid-field", "limit")


class Access(V1Client, HainekoTestCase):
    """Who may call /v1: relayhosts (403), Basic auth (401), each user their own messages,
    and the queue-wide views for local clients only."""

    start_server = False
    REMOTE = {"X-Forwarded-For": "203.0.113.9"}  # through the trusted proxy 127.0.0.1
    GOOD = {"from": "kijitora@example.jp", "to": "neko@example.jp", "subject": "s", "text": "t"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cf = {"smtpd": {"hostname": HOSTNAME, "trusted_proxies": ["127.0.0.1"]}}
        cls.open = cls.make_server(etc={"haineko.cf": cf,
                                        "relayhosts": {"relayhosts": ["127.0.0.1", "203.0.113.0/24"]}})
        cls.closed = cls.make_server(etc={"haineko.cf": cf})
        password = (run_ctl("pw", "-u", "alice", "-p", "alice-pw").stdout +
                    run_ctl("pw", "-u", "bob", "-p", "bob-pw").stdout)
        cls.auth = cls.make_server(etc={"password": password}, args=("-A",))

    def test_a_client_outside_relayhosts_is_refused(self):
        self.server = self.closed
        self.assertError(self.post(self.GOOD, self.REMOTE), 403, "access-denied")
        self.assertError(self.get("/v1/messages", self.REMOTE), 403, "access-denied")

    def test_queue_events_hold_and_release_are_for_local_clients(self):
        self.server = self.open
        mid = self.accepted(self.GOOD, self.REMOTE)["id"]
        self.assertEqual(self.get("/v1/messages/" + mid, self.REMOTE).status, 200)
        self.assertError(self.get("/v1/queue", self.REMOTE), 403, "access-denied")
        self.assertError(self.get("/v1/events", self.REMOTE), 403, "access-denied")
        self.assertError(self.post({}, self.REMOTE, path="/v1/messages/%s/hold" % mid), 403, "access-denied")
        self.assertEqual(self.get("/v1/queue").status, 200)

    def test_with_auth_each_user_sees_only_their_own(self):
        self.server = self.auth
        resp = self.post(self.GOOD)
        self.assertError(resp, 401, "auth-required")
        self.assertRegex(resp.header("WWW-Authenticate") or "", r"^Basic realm=")
        alice = {"Authorization": basic_auth("alice", "alice-pw")}
        bob = {"Authorization": basic_auth("bob", "bob-pw")}
        self.assertError(self.post(self.GOOD, {"Authorization": basic_auth("alice", "wrong")}), 401, "auth-required")
        mid = self.accepted(self.GOOD, alice)["id"]
        self.assertEqual(self.get("/v1/messages/" + mid, alice).status, 200)
        self.assertError(self.get("/v1/messages/" + mid, bob), 404, "not-found")
        self.assertError(self.server.request("DELETE", "/v1/messages/" + mid, headers=bob), 404, "not-found")
        self.assertEqual([m["id"] for m in self.get("/v1/messages", bob).json["messages"]], [])
        self.assertIn(mid, [m["id"] for m in self.get("/v1/messages", alice).json["messages"]])
        self.assertEqual(self.get("/v1/queue", bob).status, 200)


class WebhookReceiver:
    """A real local HTTP server that keeps every POST whose signature checks out, and
    answers 500 to the first `fail_first` of them."""

    def __init__(self, secret, fail_first=0):
        self.secret = secret
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.good, self.bad, self.seen = [], [], 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = receiver.signature_ok(self.headers.get("X-Haineko-Signature", ""), body)
                with receiver.lock:
                    receiver.seen += 1
                    failing = receiver.seen <= receiver.fail_first
                    (receiver.good if ok else receiver.bad).append(json.loads(body))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def signature_ok(self, header, body):
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts or abs(time.time() - int(parts["t"])) > 300:
            return False
        want = hmac.new(self.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, parts["v1"])

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Webhooks(V1Client, HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = cls.class_peer(AioPeer(rcpt_hook=tempfail_first))
        cls.hook = cls.class_peer(WebhookReceiver("shared-secret", fail_first=1))
        cls.other = cls.class_peer(WebhookReceiver("another-secret"))
        cf = queue_cf()
        cf["webhooks"] = [
            {"url": "http://127.0.0.1:%d/haineko" % cls.hook.port, "secret": "shared-secret",
             "events": ["delivered", "bounced", "deferred"]},
            {"url": "http://127.0.0.1:%d/" % cls.other.port, "secret": "another-secret", "events": ["bounced"]},
        ]
        cls.server = cls.make_server(etc={"haineko.cf": cf, "mailertable": esmtp_to(cls.peer.port)})

    def test_events_are_posted_signed_and_retried(self):
        a = self.accepted({"from": "kijitora@example.jp", "to": ["hooked@example.jp", "nobody@example.jp"],
                           "subject": "s", "text": "t", "tags": ["t1"], "metadata": {"k": "v"}})
        self.wait_status(a["id"], "partial")
        # The first POST is answered 500: it comes again (10 s later at most, with jitter).
        wait_for(lambda: len([e for e in self.hook.good if e["id"] == a["id"]]) >= 3, 20, 0.2)
        mine = [e for e in self.hook.good if e["id"] == a["id"]]
        self.assertEqual(self.hook.bad, [])
        self.assertEqual(sorted({e["type"] for e in mine}), ["bounced", "delivered"])
        self.assertEqual(len({e["webhook_id"] for e in mine}), 2)  # one delivery sent twice keeps its id
        for e in mine:
            self.assertEqual(set(e), {"seq", "at", "type", "id", "rcpt", "reply", "tags", "metadata", "webhook_id"})
            self.assertEqual(e["tags"], ["t1"])
            self.assertEqual(e["metadata"], {"k": "v"})
        others = wait_for(lambda: [e for e in self.other.good if e["id"] == a["id"]], 10, 0.2)
        self.assertEqual([e["type"] for e in others], ["bounced"])
        self.assertEqual(others[0]["rcpt"], "nobody@example.jp")
        self.assertEqual(self.other.bad, [])


class NoQueue(V1Client, HainekoTestCase):
    """A queue file that cannot be opened (here ROOT/var is a plain file): the server still
    serves /submit, /v1 answers 503 queue-unavailable, and the log names the file."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.make_server(start=False)
        with open(os.path.join(cls.server.root, "var"), "w") as f:
            f.write("not a directory\n")
        cls.server.start()
        cls.addClassCleanup(cls._stop_checked, cls.server)

    def test_submit_still_works_and_v1_says_why_not(self):
        self.assertEqual(self.server.submit(message()).status, 200)
        resp = self.post({"from": "kijitora@example.jp", "to": "neko@example.jp", "text": "t"})
        self.assertError(resp, 503, "queue-unavailable")
        self.assertTrue(resp.header("Retry-After"))
        self.assertTrue(self.server.log_lines("the queue cannot be opened"))
        self.assertIn(os.path.join(self.server.root, "var"), "\n".join(self.server.log_lines("queue")))



class FullDisk(V1Client, HainekoTestCase):
    """The store cannot write (a file-size limit stands in for a full disk): 503
    queue-unavailable with Retry-After, the server stays up and serves what it has, and
    after a restart with room again every accepted message is delivered."""

    start_server = False

    def test_a_store_that_cannot_write_answers_503_and_loses_nothing(self):
        sink = SmtpSink().start()
        self.addCleanup(sink.cleanup)
        server = self.make_server(start=False, etc={"haineko.cf": queue_cf(), "mailertable": esmtp_to(sink.port)})
        server.file_size_limit = 3 << 20  # the queue file and its WAL may not grow past 3 MB
        server.start()
        self.addCleanup(self._stop_checked, server)  # whichever run of it is last
        self.server = server
        big = "x" * (300 << 10)
        accepted, refused = [], None
        for i in range(40):
            resp = self.post({"from": "kijitora@example.jp", "to": "big%d@example.jp" % i, "subject": "s",
                              "text": big})
            if resp.status == 202:
                accepted.append(resp.json["id"])
                continue
            refused = resp
            break
        self.assertIsNotNone(refused, "the file-size limit was never met")
        self.assertError(refused, 503, "queue-unavailable")
        self.assertTrue(refused.headers.get("Retry-After"), refused.headers)
        self.assertTrue(accepted, "nothing fit before the limit")
        self.assertTrue(server.alive())
        for mid in accepted:
            self.assertEqual(self.get("/v1/messages/" + mid).status, 200)
        resp = server.submit(message(rcpt=["plain@example.jp"]))  # /submit does not need the queue
        self.assertEqual(resp.status, 200, resp.body)
        server.stop()
        server.file_size_limit = None
        server.start()
        for mid in accepted:
            self.wait_status(mid, "delivered", timeout=30)
        for i in range(len(accepted)):
            self.assertGreaterEqual(len(sink.for_rcpt("big%d@example.jp" % i)), 1)


if __name__ == "__main__":
    unittest.main()
