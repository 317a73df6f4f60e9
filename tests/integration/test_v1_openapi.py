"""docs/openapi-v1.json is what GET /v1/openapi.json serves, every reference in it
resolves, and real answers of /v1 (each success shape and the error shape) validate
against its schemas (python3-jsonschema, Draft 2020-12)."""

import json
import os
import time
import unittest

import jsonschema

from harness import HOSTNAME, HainekoTestCase, free_port
from peers import AioPeer, wait_for

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOC = os.path.join(REPO, "docs", "openapi-v1.json")


def refuse_nosuchuser(address, nth):
    return "550 5.1.1 No such user" if address.startswith("nobody@") else None


class OpenApi(HainekoTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(DOC, encoding="utf-8") as f:
            cls.doc = json.load(f)
        cls.peer = cls.class_peer(AioPeer(rcpt_hook=refuse_nosuchuser))
        cls.server = cls.make_server(etc={
            "haineko.cf": {"smtpd": {"hostname": HOSTNAME}, "queue": {"min_backoff": 60}},
            "mailertable": {"default": {"mailer": "ESMTP", "host": "127.0.0.1", "port": cls.peer.port}}})

    def validate(self, name, instance):
        schema = dict(self.doc["components"]["schemas"][name])
        resolver = jsonschema.RefResolver("", self.doc)
        jsonschema.Draft202012Validator(schema, resolver=resolver).validate(instance)

    def call(self, method, path, body=None, status=200, schema=None):
        resp = self.server.request(method, path, body=json.dumps(body) if body is not None else None,
                                   headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, status, resp.body)
        self.assertTrue(resp.header("Content-Type").startswith("application/json"))
        if schema:
            self.validate(schema, resp.json)
        return resp.json

    def test_served_document_is_the_file(self):
        served = self.call("GET", "/v1/openapi.json")
        self.assertEqual(served, self.doc)
        self.assertEqual(served["openapi"], "3.1.0")

    def test_every_reference_resolves(self):
        refs = []

        def walk(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "$ref":
                        refs.append(v)
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(self.doc)
        self.assertGreater(len(refs), 10)
        resolver = jsonschema.RefResolver("", self.doc)
        for ref in refs:
            resolver.resolve(ref)
        jsonschema.Draft202012Validator.check_schema(self.doc["components"]["schemas"]["Message"])

    def test_success_answers_validate(self):
        accepted = self.call("POST", "/v1/messages", {
            "from": "Kijitora <kijitora@example.jp>", "to": ["neko@example.jp", "nobody@example.jp"],
            "subject": "s", "text": "t", "html": "<p>h</p>", "tags": ["a"], "metadata": {"k": "v"},
            "attachments": [{"filename": "a.txt", "content": "aGVsbG8=", "content_type": "text/plain"}]},
            202, "Accepted")
        mid = accepted["id"]
        wait_for(lambda: self.server.request("GET", "/v1/messages/" + mid).json["status"] == "partial", 15, 0.1)
        message = self.call("GET", "/v1/messages/" + mid, schema="Message")
        self.assertEqual(message["status"], "partial")
        self.call("GET", "/v1/messages?limit=5", schema="MessageList")
        self.call("GET", "/v1/messages?status=partial", schema="MessageList")
        self.call("GET", "/v1/queue", schema="QueueCounts")
        feed = self.call("GET", "/v1/events?after=0", schema="EventPage")
        self.assertIn("dsn-sent", [e["type"] for e in feed["events"]])
        self.call("POST", "/v1/queue/flush", {}, schema="Flushed")
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        held = self.call("POST", "/v1/messages", {"from": "kijitora@example.jp", "to": "neko@example.jp",
                                                  "text": "t", "send_at": later}, 202, "Accepted")["id"]
        self.call("POST", "/v1/messages/%s/hold" % held, {}, schema="Message")
        self.call("POST", "/v1/messages/%s/release" % held, {}, schema="Message")
        self.call("POST", "/v1/messages/%s/retry" % held, {}, schema="Message")
        self.call("DELETE", "/v1/messages/" + held, schema="Message")

    def test_error_answers_validate(self):
        for method, path, body, status in (
                ("POST", "/v1/messages", "{", 400),
                ("POST", "/v1/messages", {"to": "neko@example.jp", "text": "t"}, 400),
                ("POST", "/v1/messages", {"from": "a@example.jp", "to": "x@example.org", "text": "t"}, 422),
                ("GET", "/v1/messages/nosuchid", None, 404),
                ("PUT", "/v1/queue", None, 405),
                ("GET", "/v1/messages?limit=5000", None, 400)):
            with self.subTest(method=method, path=path, status=status):
                resp = self.server.request(method, path, body=body if isinstance(body, str) or body is None
                                           else json.dumps(body))
                self.assertEqual(resp.status, status, resp.body)
                self.validate("Error", resp.json)
                self.assertIn(str(status), self.doc["paths"][path.split("?")[0].replace("nosuchid", "{id}")]
                              [method.lower()]["responses"] if method != "PUT" else ["405"])


if __name__ == "__main__":
    unittest.main()
