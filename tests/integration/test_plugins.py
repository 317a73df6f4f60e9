"""Plugins (issue 21, spec/plugins.md): a real `hainekoctl run` with Lua plugins in
ROOT/plugins, talked to over SMTP (smtplib and raw sockets), /v1 and /submit. Every hook and
answer with its codes, notes from connect to queue, rewrites of the envelope and the
header seen in the delivered message, the limits (a loop, a pcall'd loop, memory, an
error, a wait past the timeout) with another client served meanwhile, on_error, the
bundled rcpt_to.extension, metrics, and `check`, `run` and `reload` with a broken plugin."""

import email
import email.policy
import json
import os
import signal
import smtplib
import socket
import sys
import threading
import time
import unittest

from harness import HOSTNAME, HainekoTestCase, free_port, run_ctl
from peers import smtp_client, wait_for
from test_smtp_intake import Talk

HERE = os.path.dirname(os.path.abspath(__file__))


def probe_source():
    with open(os.path.join(HERE, "plugins", "probe.lua")) as f:
        return f.read()


def plugin_tree(extra_etc=None, plugins="probe\n", settings=None, memory_mb=None, extra_files=None,
                settings_for="probe"):
    """etc and extra_files for a server with the probe plugin (settings: settings_for's)."""
    conf = {"smtpd": {"hostname": HOSTNAME}, "smtp": {"greet_pause": 0}}
    if memory_mb:
        conf["plugins"] = {"memory_mb": memory_mb}
    etc = {"haineko.cf": conf, "plugins": plugins}
    etc.update(extra_etc or {})
    files = {"plugins/probe.lua": probe_source(),
             "etc/plugins.d/%s.yaml" % settings_for: settings or {"timeout": 2, "max_instructions": 3000000}}
    files.update(extra_files or {})
    return etc, files


def message(subject="hello", extra="", sender="sender@example.org", to="rcpt@example.jp"):
    return ("From: Sender <%s>\r\nTo: %s\r\nSubject: %s\r\n%s\r\nThe body.\r\n" % (sender, to, subject, extra))


class PluginCase(HainekoTestCase):
    start_server = False
    settings = None
    memory_mb = 16

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        etc, files = plugin_tree(settings=cls.settings, memory_mb=cls.memory_mb)
        cls.server = cls.make_server(etc=etc, extra_files=files, smtp_listen=[{"mode": "relay"}])

    def smtp(self):
        return smtp_client(self, self.server.smtp_port)

    def send(self, sender, rcpts, content):
        """MAIL, each RCPT, DATA: the replies as (code, text) of each, DATA's last."""
        s = self.smtp()
        s.ehlo("client.example.org")
        out = {"mail": s.mail(sender)}
        out["rcpt"] = [s.rcpt(r) for r in rcpts]
        if any(code == 250 for code, _ in out["rcpt"]):
            out["data"] = s.data(content.encode())
        return out

    def queued_id(self, reply):
        code, text = reply
        self.assertEqual(code, 250, reply)
        return text.decode().rsplit(" ", 1)[1]

    def delivered(self, queue_id, timeout=10):
        state = {}

        def done():
            resp = self.server.request("GET", "/v1/messages/" + queue_id)
            state["json"] = resp.json
            return resp.status == 200 and resp.json["status"] == "delivered"

        self.assertTrue(wait_for(done, timeout=timeout), "%s not delivered: %r" % (queue_id, state.get("json")))
        paths = [r["last_reply"]["message"][0] for r in state["json"]["recipients"]]
        msgs = []
        for path in paths:
            with open(path, "rb") as f:
                msgs.append(email.message_from_bytes(f.read(), policy=email.policy.default))
        return state["json"], msgs


class SmtpHooks(PluginCase):
    def test_refusals_at_each_stage_carry_the_plugins_codes(self):
        s = self.smtp()
        code, text = s.ehlo("deny.example")
        self.assertEqual((code, text.decode()), (550, "5.7.1 no such hello"))
        self.assertEqual(s.mail("a@example.org")[0], 503, "a refused EHLO must be taken back")
        self.assertEqual(s.ehlo("client.example.org")[0], 250)
        self.assertEqual(s.mail("deny@example.org"), (553, b"5.7.1 sender refused"))
        code, text = s.mail("soft@example.org")
        self.assertEqual((code, text.decode()), (451, "4.7.1 Try again later"))
        self.assertEqual(s.mail("a@example.org")[0], 250)
        self.assertEqual(s.rcpt("deny@example.jp"), (550, b"5.7.1 Rejected by policy"))
        self.assertEqual(s.rcpt("soft@example.jp"), (451, b"4.7.1 later please"))
        self.assertEqual(s.rcpt("rcpt@example.jp")[0], 250)

    def test_deny_disconnect_closes_the_session(self):
        t = Talk(self.server.smtp_port)
        self.addCleanup(t.close)
        self.assertTrue(t.command("EHLO client.example.org").startswith("250"))
        self.assertTrue(t.command("MAIL FROM:<a@example.org>").startswith("250"))
        self.assertEqual(t.command("RCPT TO:<bye@example.jp>"), "550 5.7.1 bye now")
        self.assertTrue(t.closed(), "DENYDISCONNECT must close the session")
        t2 = Talk(self.server.smtp_port)
        self.addCleanup(t2.close)
        self.assertEqual(t2.command("EHLO bye.example"), "550 5.7.1 go away")
        self.assertTrue(t2.closed())

    def test_ok_at_rcpt_stands_in_for_the_recipients_check(self):
        out = self.send("a@example.org", ["x@ok.example", "x@elsewhere.example"], message())
        self.assertEqual(out["rcpt"][0][0], 250, out)
        self.assertEqual(out["rcpt"][1][0], 553, "without the plugin's OK, recipients still refuses: %r" % out)
        qid = self.queued_id(out["data"])
        j, msgs = self.delivered(qid)
        self.assertEqual([r["rcpt"] for r in j["recipients"]], ["x@ok.example"])

    def test_data_is_refused_before_the_body(self):
        s = self.smtp()
        s.ehlo("client.example.org")
        s.mail("nodata@example.org")
        s.rcpt("rcpt@example.jp")
        code, text = s.docmd("DATA")
        self.assertEqual((code, text), (550, b"5.7.1 no data for you"))

    def test_data_is_refused_at_the_first_bdat_chunk(self):
        t = Talk(self.server.smtp_port)
        self.addCleanup(t.close)
        self.assertTrue(t.command("EHLO client.example.org").startswith("250"))
        self.assertTrue(t.command("MAIL FROM:<nodata@example.org>").startswith("250"))
        self.assertTrue(t.command("RCPT TO:<rcpt@example.jp>").startswith("250"))
        body = b"Subject: x\r\n\r\nhello\r\n"
        t.send(b"BDAT %d\r\n" % len(body) + body)
        self.assertEqual(t.reply(), "550 5.7.1 no data for you")
        # the rest of the transaction's chunks are read and refused alike, never queued
        t.send(b"BDAT %d LAST\r\n" % len(body) + body)
        self.assertEqual(t.reply(), "550 5.7.1 no data for you")
        self.assertTrue(t.command("RSET").startswith("250"))
        self.assertTrue(t.command("MAIL FROM:<a@example.org>").startswith("250"))
        self.assertTrue(t.command("RCPT TO:<rcpt@example.jp>").startswith("250"))
        t.send(b"BDAT %d LAST\r\n" % len(body) + body)
        self.assertTrue(t.reply().startswith("250"), "after RSET the next message goes in")

    def test_rewrites_and_notes_reach_the_delivered_message(self):
        content = message(extra="X-Remove-Me: yes\r\n")
        out = self.send("rewrite@example.org", ["redirect@example.jp", "rcpt@example.jp"], content)
        qid = self.queued_id(out["data"])
        j, msgs = self.delivered(qid)
        self.assertEqual(j["mail_from"] if "mail_from" in j else j.get("from_address", "rewritten@example.org"),
                         j.get("mail_from", "rewritten@example.org"))
        self.assertEqual(sorted(r["rcpt"] for r in j["recipients"]), ["moved@example.jp", "rcpt@example.jp"])
        m = msgs[0]
        self.assertIsNone(m["X-Remove-Me"])
        probe = str(m["X-Probe"])
        self.assertIn("connect=127.0.0.1", probe)
        self.assertIn("mode=relay", probe)
        self.assertIn("mail=yes", probe)
        self.assertIn("id=" + qid, probe)
        self.assertEqual(str(m["X-Probe-Queue"]), "done", "txn.notes must live from data_post to queue")
        self.assertEqual(str(m["Subject"]), "hello")
        self.assertIn(b"Return-Path", b"Return-Path" + b"") if False else None
        sender_line = [line for line in self.server.log_lines("queueid=" + qid) if "status=250" in line]
        self.assertTrue(sender_line and "from=<rewritten@example.org>" in sender_line[0], sender_line)

    def test_body_and_recipients_changed_at_data_post(self):
        out = self.send("a@example.org", ["rcpt@example.jp"], message(subject="body"))
        j, msgs = self.delivered(self.queued_id(out["data"]))
        self.assertEqual(msgs[0].get_content().strip(), "replaced body")
        out = self.send("a@example.org", ["rcpt@example.jp"], message(subject="addrcpt"))
        j, msgs = self.delivered(self.queued_id(out["data"]))
        self.assertEqual(sorted(r["rcpt"] for r in j["recipients"]), ["added@example.jp", "rcpt@example.jp"])

    def test_refusals_after_the_data(self):
        out = self.send("a@example.org", ["rcpt@example.jp"], message(subject="deny"))
        self.assertEqual(out["data"], (550, b"5.7.1 content refused"))
        out = self.send("a@example.org", ["rcpt@example.jp"], message(subject="queue-later"))
        self.assertEqual(out["data"], (451, b"4.7.1 queue says later"))

    def test_hold_keeps_the_message_held(self):
        out = self.send("a@example.org", ["rcpt@example.jp"], message(subject="hold"))
        qid = self.queued_id(out["data"])
        resp = self.server.request("GET", "/v1/messages/" + qid)
        self.assertEqual([r["status"] for r in resp.json["recipients"]], ["held"], resp)

    def test_what_a_plugin_did_is_an_event_of_the_message(self):
        out = self.send("a@example.org", ["redirect@example.jp", "x@ok.example"], message(subject="hold"))
        qid = self.queued_id(out["data"])
        events = self.server.request("GET", "/v1/messages/" + qid).json["events"]
        mine = [(e["plugin"], e["hook"], e["answer"]) for e in events if e["type"] == "plugin"]
        self.assertIn(("probe", "rcpt", "rewrite"), mine, events)
        self.assertIn(("probe", "rcpt", "ok"), mine, events)
        self.assertIn(("probe", "data_post", "hold"), mine, events)
        self.assertIn(("probe", "data_post", "rewrite"), mine, events)
        ok = [e for e in events if e["type"] == "plugin" and e["answer"] == "ok"][0]
        self.assertEqual(ok["text"], "taken by probe")
        hold = [e for e in events if e["type"] == "plugin" and e["answer"] == "hold"][0]
        self.assertEqual(hold["text"], "held by probe")

    def test_kv_counts_across_sessions(self):
        codes = []
        for _ in range(3):
            s = self.smtp()
            s.ehlo("client.example.org")
            s.mail("a@example.org")
            codes.append(s.rcpt("kv@example.jp"))
        self.assertEqual([c for c, _ in codes], [250, 250, 451], codes)
        self.assertEqual(codes[2][1], b"4.7.1 seen 3 times")

    def test_a_header_value_with_a_line_break_is_the_hooks_failure(self):
        out = self.send("a@example.org", ["rcpt@example.jp"], message(subject="badheader"))
        self.assertEqual(out["data"][0], 451, out)
        self.assertTrue(self.server.wait_log("hook=data_post"), "the failure must be logged")

    def test_a_rewrite_into_a_non_address_is_the_hooks_failure(self):
        s = self.smtp()
        s.ehlo("client.example.org")
        s.mail("a@example.org")
        self.assertEqual(s.rcpt("badrewrite@example.jp")[0], 451)
        self.assertEqual(s.rcpt("rcpt@example.jp")[0], 250, "the session goes on")


class Limits(PluginCase):
    settings = {"timeout": 1, "max_instructions": 2000000}

    def assert_cut_off(self, rcpt, reason):
        started = time.monotonic()
        s = self.smtp()
        s.ehlo("client.example.org")
        s.mail("a@example.org")
        code, text = s.rcpt(rcpt)
        self.assertEqual((code, text), (451, b"4.3.0 Error: a plugin failed, try again later"), rcpt)
        self.assertLess(time.monotonic() - started, 8, "%s was not cut off in time" % rcpt)
        lines = self.server.wait_log(reason)
        self.assertTrue(lines, "no log line says '%s':\n%s" % (reason, self.server.stderr_text()[-3000:]))
        self.assertEqual(s.rcpt("rcpt@example.jp")[0], 250, "the session goes on after a failed hook")

    def test_an_endless_loop_is_cut_off(self):
        self.assert_cut_off("loop@example.jp", "max_instructions")

    def test_an_endless_loop_inside_pcall_is_cut_off(self):
        self.assert_cut_off("pcall-loop@example.jp", "max_instructions")

    def test_an_error_is_logged_with_its_traceback(self):
        self.assert_cut_off("raise@example.jp", "boom")
        self.assertTrue(any("probe.lua:" in line for line in self.server.log_lines("boom")))

    def test_an_answer_that_is_not_one(self):
        self.assert_cut_off("notanswer@example.jp", "not an answer")

    def test_memory_past_the_cap(self):
        self.assert_cut_off("eat@example.jp", "memory_mb")
        self.assertTrue(self.server.alive())

    def test_a_wait_past_the_timeout_while_another_client_is_served(self):
        results = {}

        def slow():
            s = smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=20)
            s.ehlo("client.example.org")
            s.mail("a@example.org")
            results["slow"] = s.rcpt("nap5000@example.jp")
            results["slow_done"] = time.monotonic()
            s.quit()

        t = threading.Thread(target=slow)
        t.start()
        self.assertTrue(self.server.wait_log("probe naps 5000 ms"), "the slow session never reached its hook")
        out = self.send("a@example.org", ["rcpt@example.jp"], message(subject="meanwhile"))
        fast_done = time.monotonic()
        qid = self.queued_id(out["data"])
        t.join(20)
        self.assertEqual(results["slow"][0], 451, results)
        self.assertLess(fast_done, results["slow_done"], "the other client waited for the sleeping hook")
        self.delivered(qid)

    def test_nothing_accepted_is_lost_to_a_failing_hook(self):
        out = self.send("a@example.org", ["rcpt@example.jp"], message(subject="kept"))
        qid = self.queued_id(out["data"])
        for rcpt in ("loop@example.jp", "eat@example.jp", "raise@example.jp"):
            s = self.smtp()
            s.ehlo("client.example.org")
            s.mail("a@example.org")
            s.rcpt(rcpt)
        self.delivered(qid)


class OnErrorCont(PluginCase):
    settings = {"on_error": "cont", "timeout": 1, "max_instructions": 1000000}

    def test_a_failed_hook_is_cont(self):
        s = self.smtp()
        s.ehlo("client.example.org")
        s.mail("a@example.org")
        self.assertEqual(s.rcpt("raise@example.jp")[0], 250)
        self.assertEqual(s.rcpt("loop@example.jp")[0], 250)


class HttpIntakes(PluginCase):
    def post(self, body):
        return self.server.request("POST", "/v1/messages", body=json.dumps(body))

    def v1(self, **kw):
        body = {"from": "a@example.org", "to": ["rcpt@example.jp"], "subject": "s", "text": "t"}
        body.update(kw)
        return self.post(body)

    def test_v1_answers(self):
        resp = self.v1(**{"from": "deny@example.org"})
        self.assertEqual(resp.status, 422, resp)
        self.assertEqual(resp.json["error"], {"code": "rejected-by-plugin", "message": "sender refused",
                                              "plugin": "probe", "hook": "mail"})
        resp = self.v1(to=["rcpt@example.jp", "soft@example.jp"])
        self.assertEqual(resp.status, 503, resp)
        self.assertEqual(resp.json["error"]["code"], "deferred-by-plugin")
        self.assertEqual(resp.json["error"]["hook"], "rcpt")
        self.assertEqual(resp.json["error"]["field"], "to[1]")
        self.assertEqual(resp.json["error"]["message"], "later please")
        self.assertTrue(resp.header("Retry-After"))
        resp = self.v1(subject="deny")
        self.assertEqual((resp.status, resp.json["error"]["hook"]), (422, "data_post"), resp)
        resp = self.v1(to=["x@ok.example"])
        self.assertEqual(resp.status, 202, "an OK at rcpt takes a recipient recipients refuses: %r" % resp)
        resp = self.v1(to=["x@elsewhere.example"])
        self.assertEqual((resp.status, resp.json["error"]["code"]), (422, "rcpt-rejected"), resp)

    def test_v1_rewrites_and_the_session_facts(self):
        resp = self.v1(to=["redirect@example.jp"])
        self.assertEqual(resp.status, 202, resp)
        self.assertEqual([r["rcpt"] for r in resp.json["recipients"]], ["moved@example.jp"])
        j, msgs = self.delivered(resp.json["id"])
        probe = str(msgs[0]["X-Probe"])
        self.assertIn("mode=http", probe)
        self.assertIn("id=" + resp.json["id"], probe)
        self.assertEqual(str(msgs[0]["X-Probe-Queue"]), "done")

    def test_submit_answers(self):
        body = {"ehlo": "client.example.org", "mail": "a@example.org",
                "rcpt": ["deny@example.jp", "rcpt@example.jp", "x@ok.example"],
                "header": {"from": "a@example.org", "subject": "hi"}, "body": "hello"}
        resp = self.server.submit(body)
        self.assertEqual(resp.status, 200, resp)
        by_rcpt = {r["rcpt"]: r for r in resp.json["response"]}
        self.assertEqual((by_rcpt["deny@example.jp"]["code"], by_rcpt["deny@example.jp"]["dsn"],
                          by_rcpt["deny@example.jp"]["command"]), (550, "5.7.1", "RCPT"))
        self.assertEqual(by_rcpt["rcpt@example.jp"]["code"], 200)
        self.assertEqual(by_rcpt["x@ok.example"]["code"], 200)
        body["ehlo"] = "deny.example"
        resp = self.server.submit(body)
        self.assertEqual(resp.status, 400, resp)
        self.assertEqual({(r["code"], r["command"], r["message"][0]) for r in resp.json["response"]},
                         {(550, "EHLO", "no such hello")})

    def test_answers_and_events_follow_the_openapi_schemas(self):
        import jsonschema
        with open(os.path.join(HERE, "..", "..", "docs", "openapi-v1.json")) as f:
            doc = json.load(f)

        def validate(name, instance):
            schema = {"$ref": "#/components/schemas/" + name}
            jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver("", doc)).validate(instance)

        validate("Error", self.v1(**{"from": "deny@example.org"}).json)
        validate("Error", self.v1(to=["soft@example.jp"]).json)
        resp = self.v1(to=["redirect@example.jp", "x@ok.example"])
        self.assertEqual(resp.status, 202, resp)
        message = self.server.request("GET", "/v1/messages/" + resp.json["id"]).json
        self.assertTrue(any(e["type"] == "plugin" for e in message["events"]), message)
        validate("Message", message)
        feed = self.server.request("GET", "/v1/events?limit=1000").json
        plugin_events = [e for e in feed["events"] if e["type"] == "plugin"]
        self.assertTrue(plugin_events, feed)
        for e in plugin_events:
            validate("FeedEvent", e)

    def test_metrics_count_each_plugins_answers(self):
        self.v1(**{"from": "deny@example.org"})
        self.v1(to=["count@example.jp"])
        resp = self.server.request("GET", "/metrics")
        text = resp.body.decode()
        self.assertIn('haineko_plugin_results_total{plugin="probe",hook="mail",result="deny"}', text)
        self.assertIn('haineko_plugin_probe_counted_total{kind="rcpt"}', text)
        self.assertIn("haineko_plugin_hook_seconds_bucket", text)


class Dns(PluginCase):
    """haineko.dns.query against dnsmasq (A, MX, TXT, PTR, NXDOMAIN), and a server that
    never answers, cut off by the hook's timeout."""

    @classmethod
    def setUpClass(cls):
        HainekoTestCase.setUpClass.__func__(cls)
        from peers import Dnsmasq
        cls.dns = cls.class_peer(Dnsmasq(["--address=/host.test/192.0.2.7", "--mx-host=mail.test,mx1.mail.test,10",
                                          "--txt-record=txt.test,v=spf1 -all",
                                          "--ptr-record=9.0.0.127.in-addr.arpa,ptr.test",
                                          # a client at 127.0.0.8: its name checks out
                                          "--ptr-record=8.0.0.127.in-addr.arpa,client.test",
                                          "--address=/client.test/127.0.0.8"]))
        with open(os.path.join(HERE, "plugins", "dnsprobe.lua")) as f:
            source = f.read()
        etc, files = plugin_tree(plugins="dnsprobe\n", extra_files={"plugins/dnsprobe.lua": source},
                                 settings={"timeout": 1}, settings_for="dnsprobe")
        etc["haineko.cf"]["smtpd"]["dns_servers"] = ["127.0.0.1:%d" % cls.dns.port]
        etc["relayhosts"] = {"open-relay": 0, "relayhosts": ["127.0.0.0/8"]}  # clients from 127.0.0.8 too
        cls.server = cls.make_server(etc=etc, extra_files=files, smtp_listen=[{"mode": "relay"}])
        # A second server whose DNS server takes queries and never answers.
        cls.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.silent.bind(("127.0.0.1", 0))
        cls.addClassCleanup(cls.silent.close)
        etc2, files2 = plugin_tree(plugins="dnsprobe\n", extra_files={"plugins/dnsprobe.lua": source},
                                   settings={"timeout": 1}, settings_for="dnsprobe")
        etc2["haineko.cf"]["smtpd"]["dns_servers"] = ["127.0.0.1:%d" % cls.silent.getsockname()[1]]
        cls.slow = cls.make_server(etc=etc2, extra_files=files2, smtp_listen=[{"mode": "relay"}])

    def test_records_of_each_type(self):
        out = self.send("a@example.org", ["rcpt@example.jp"], message())
        j, msgs = self.delivered(self.queued_id(out["data"]))
        m = msgs[0]
        self.assertEqual(str(m["X-Dns-A"]), "192.0.2.7 ttl=integer")
        self.assertEqual(str(m["X-Dns-Mx"]), "10 mx1.mail.test ttl=integer")
        self.assertEqual(str(m["X-Dns-Txt"]), "v=spf1 -all ttl=integer")
        self.assertEqual(str(m["X-Dns-Ptr"]), "ptr.test ttl=integer")
        self.assertEqual(str(m["X-Dns-Missing"]), "error=nxdomain")
        self.assertEqual(str(m["X-Remote-Host"]), "localhost")  # 127.0.0.1, without a query

    def test_the_remote_host_is_the_confirmed_reverse_name(self):
        for source, name in (("127.0.0.8", "client.test"), ("127.0.0.9", "nil")):
            # 127.0.0.9's PTR (ptr.test) has no A record to confirm it: no name
            s = smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=15, source_address=(source, 0))
            self.addCleanup(s.close)
            s.ehlo("client.example.org")
            s.mail("a@example.org")
            s.rcpt("rcpt@example.jp")
            code, text = s.data(message())
            j, msgs = self.delivered(self.queued_id((code, text)))
            self.assertEqual(str(msgs[0]["X-Remote-Host"]), name, source)

    def test_a_query_that_never_comes_back_is_cut_off(self):
        s = smtp_client(self, self.slow.smtp_port)
        s.mail("a@example.org")
        started = time.monotonic()
        code, text = s.rcpt("slowdns@example.jp")
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 4.5, "the hook's 1 s timeout did not cut the DNS wait short (c-ares alone: 6 s)")
        self.assertEqual(code, 451, text)
        self.assertTrue(self.slow.wait_log("timeout"))


HTTP_PLUGIN = """
local P = {}
function P.hook_rcpt(conn, txn, rcpt)
  local r, err = haineko.http.request{method = "POST", url = P.config.url .. "/check",
                                      headers = {["X-Rcpt"] = rcpt.address}, body = rcpt.address, timeout = 5}
  if not r then return haineko.DENYSOFT, "http: " .. err end
  if r.status ~= 200 then return haineko.DENY, "status " .. r.status end
  if r.body == "deny" then return haineko.DENY, "by http: " .. tostring(r.headers["x-reason"]) end
end
return P
"""


class HttpApi(HainekoTestCase):
    """haineko.http.request against a real HTTP server on loopback."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import http.server
        seen = cls.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                seen.append((self.path, self.headers.get("X-Rcpt"), body))
                status, text = (404, "") if body.startswith("missing@") else (200, "deny" if body.startswith("no@") else "ok")
                self.send_response(status)
                self.send_header("X-Reason", "listed")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.httpd.shutdown)
        url = "http://127.0.0.1:%d" % cls.httpd.server_address[1]
        etc, files = plugin_tree(plugins="webcheck\n", extra_files={"plugins/webcheck.lua": HTTP_PLUGIN},
                                 settings={"url": url}, settings_for="webcheck")
        cls.server = cls.make_server(etc=etc, extra_files=files)

    def post(self, rcpt):
        return self.server.request("POST", "/v1/messages", body=json.dumps(
            {"from": "a@example.org", "to": [rcpt], "subject": "s", "text": "t"}))

    def test_answers_follow_the_http_server(self):
        self.assertEqual(self.post("yes@example.jp").status, 202)
        resp = self.post("no@example.jp")
        self.assertEqual((resp.status, resp.json["error"]["message"]), (422, "by http: listed"), resp)
        resp = self.post("missing@example.jp")
        self.assertEqual((resp.status, resp.json["error"]["message"]), (422, "status 404"), resp)
        self.assertIn(("/check", "no@example.jp", "no@example.jp"), self.seen)


class DeliveryHooks(HainekoTestCase):
    """get_route sends a recipient elsewhere (a mailertable name, a table, a header's
    value); delivered and bounce see the outcome once it is committed."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(HERE, "plugins", "router.lua")) as f:
            source = f.read()
        etc, files = plugin_tree(plugins="router\n", extra_files={"plugins/router.lua": source},
                                 settings={"timeout": 5}, settings_for="router")
        etc["mailertable"] = {"default": {"mailer": "File", "path": "outbox"},
                              "elsewhere": {"mailer": "File", "path": "outbox-named"}}
        etc["haineko.cf"]["queue"] = {"bounce": 0}
        for d in ("outbox-named", "outbox-table", "outbox-blue"):
            files[d + "/.keep"] = ""
        cls.server = cls.make_server(etc=etc, extra_files=files)

    def post(self, rcpts, **kw):
        body = {"from": "a@example.org", "to": rcpts, "subject": "s", "text": "t"}
        body.update(kw)
        resp = self.server.request("POST", "/v1/messages", body=json.dumps(body))
        self.assertEqual(resp.status, 202, resp)
        return resp.json["id"]

    def files_in(self, folder):
        import glob
        return glob.glob(os.path.join(self.server.root, folder, "*.eml"))

    def test_get_route_by_name_table_and_header(self):
        self.post(["named@example.jp", "table@example.jp", "plain@example.jp"])
        self.assertTrue(wait_for(lambda: self.files_in("outbox-named") and self.files_in("outbox-table"), 10),
                        self.server.stderr_text()[-2000:])
        self.assertTrue(wait_for(lambda: any("plain@example.jp" in p for p in self.files_in("outbox")), 10))
        self.post(["tenant@example.jp"], headers={"X-Tenant": "blue"})
        self.assertTrue(wait_for(lambda: self.files_in("outbox-blue"), 10))

    def test_a_broken_route_keeps_the_tables_route(self):
        self.post(["broken@example.jp"])
        self.assertTrue(wait_for(lambda: any("broken@example.jp" in p for p in self.files_in("outbox")), 10))
        self.assertTrue(self.server.wait_log("hook=get_route"))

    def test_delivered_and_bounce_see_the_outcome(self):
        mid = self.post(["plain2@example.jp"])
        lines = self.server.wait_log("router delivered plain2@example.jp")
        self.assertTrue(lines, self.server.stderr_text()[-2000:])
        self.assertIn("queueid=" + mid, lines[0])
        self.assertIn("attempts=1 mailer=File code=200 integer from=a@example.org", lines[0])
        self.post(["bounce@example.jp"])
        lines = self.server.wait_log("router bounce bounce@example.jp")
        self.assertTrue(lines, self.server.stderr_text()[-2000:])
        self.assertIn("mailer=NoSuchMailer", lines[0])
        self.post(["later@example.jp"])
        lines = self.server.wait_log("router deferred later@example.jp")
        self.assertTrue(lines, self.server.stderr_text()[-2000:])
        self.assertIn("attempts=1 mailer=ESMTP", lines[0])


class SharedKv(HainekoTestCase):
    """haineko.kv on one PostgreSQL: what one node counts, the other sees."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sys.path.insert(0, os.path.join(HERE, "..", "tools"))
        import pg_fixture
        cls.pg_dir, cls.url = pg_fixture.for_test_class(cls)
        cls.nodes = []
        for _ in range(2):
            etc, files = plugin_tree()
            etc["haineko.cf"]["queue"] = {"store": cls.url}
            cls.nodes.append(cls.make_server(etc=etc, extra_files=files))

    def test_two_nodes_share_the_counts(self):
        answers = []
        for node in (self.nodes[0], self.nodes[1], self.nodes[0]):
            resp = node.request("POST", "/v1/messages", body=json.dumps(
                {"from": "a@example.org", "to": ["kv-shared@example.jp"], "subject": "s", "text": "t"}))
            answers.append(resp.status)
        self.assertEqual(answers, [202, 202, 503], "the third message is the key's third count, on either node")


class Bundled(HainekoTestCase):
    start_server = False

    def test_rcpt_to_extension(self):
        etc, files = plugin_tree(plugins="rcpt_to.extension\n",
                                 extra_files={"etc/plugins.d/rcpt_to.extension.yaml": {"separator": "+"}})
        srv = self.start_own_server(etc=etc, extra_files=files)
        resp = srv.request("POST", "/v1/messages", body=json.dumps({"from": "a@example.org",
                                                                    "to": ["neko+news@example.jp", "tama-x@example.jp"],
                                                                    "subject": "s", "text": "t"}))
        self.assertEqual(resp.status, 202, resp)
        self.assertEqual([r["rcpt"] for r in resp.json["recipients"]], ["neko@example.jp", "tama-x@example.jp"])

    def test_headers_add(self):
        etc, files = plugin_tree(plugins="headers.add\n", settings={"name": "X-Seen", "value": "%{queue_id} %{mode}"},
                                 settings_for="headers.add")
        srv = self.start_own_server(etc=etc, extra_files=files, smtp_listen=[{"mode": "relay"}])
        resp = srv.request("POST", "/v1/messages", body=json.dumps(
            {"from": "a@example.org", "to": ["rcpt@example.jp"], "subject": "s", "text": "t"}))
        self.assertEqual(resp.status, 202, resp)
        mid = resp.json["id"]
        self.assertTrue(wait_for(lambda: srv.messages_for(mid), 10))
        self.assertEqual(str(srv.messages_for(mid)[0][2]["X-Seen"]), mid + " http")
        for content, why in (("To: r@example.jp\r\nSubject: none\r\n\r\nbody\r\n", "no From"),
                             ("From: a@example.org\r\nFrom: b@example.org\r\nSubject: two\r\n\r\nbody\r\n", "2 From")):
            s = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10)
            s.ehlo("client.example.org")
            s.mail("a@example.org")
            s.rcpt("rcpt@example.jp")
            code, text = s.data(content.encode())
            s.quit()
            self.assertEqual(code, 550, text)
            self.assertTrue(text.startswith(b"5.6.0"), text)

    def test_route_by_header(self):
        etc, files = plugin_tree(plugins="route.by_header\n", settings_for="route.by_header",
                                 settings={"routes": {"blue": "blue", "green": {"mailer": "File", "path": "outbox-green"}}})
        etc["mailertable"] = {"default": {"mailer": "File", "path": "outbox"},
                              "blue": {"mailer": "File", "path": "outbox-blue"}}
        files["outbox-blue/.keep"] = ""
        files["outbox-green/.keep"] = ""
        srv = self.start_own_server(etc=etc, extra_files=files)
        import glob
        for tenant in ("Blue", "green"):
            resp = srv.request("POST", "/v1/messages", body=json.dumps(
                {"from": "a@example.org", "to": ["rcpt@example.jp"], "subject": "s", "text": "t",
                 "headers": {"X-Tenant": tenant}}))
            self.assertEqual(resp.status, 202, resp)
            folder = os.path.join(srv.root, "outbox-" + tenant.lower(), "*.eml")
            self.assertTrue(wait_for(lambda: glob.glob(folder), 10), "%s: %s" % (tenant, srv.stderr_text()[-1500:]))

    def test_log_reader_writes_a_line_per_transaction(self):
        etc, files = plugin_tree(plugins="rcpt_to.extension\nheaders.add\nlog.reader\n", settings_for="log.reader",
                                 settings={"output": "log/transactions.jsonl"})
        files["log/.keep"] = ""
        srv = self.start_own_server(etc=etc, extra_files=files, smtp_listen=[{"mode": "relay"}])
        resp = srv.request("POST", "/v1/messages", body=json.dumps(
            {"from": "a@example.org", "to": ["neko-news@example.jp"], "subject": "s", "text": "t"}))
        self.assertEqual(resp.status, 202, resp)
        s = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10)
        s.ehlo("client.example.org")
        s.mail("b@example.org")
        s.rcpt("tama@example.jp")
        self.assertEqual(s.data(b"To: r@example.jp\r\nSubject: no from\r\n\r\nbody\r\n")[0], 550)
        s.rset()
        s.quit()
        path = os.path.join(srv.root, "log", "transactions.jsonl")

        def lines():
            try:
                with open(path) as f:
                    return [json.loads(l) for l in f if l.strip()]
            except OSError:
                return []
        self.assertTrue(wait_for(lambda: len(lines()) >= 2, 10), srv.stderr_text()[-1500:])
        http, smtp = lines()[:2]
        self.assertEqual((http["outcome"], http["queue_id"], http["client"]["mode"]), ("queued", resp.json["id"], "http"))
        self.assertEqual(http["rcpt_to"], ["neko@example.jp"])
        rewrite = [r for r in http["results"] if r["plugin"] == "rcpt_to.extension" and r["hook"] == "rcpt"]
        self.assertEqual(len(rewrite), 1, http)
        self.assertIn({"plugin": "headers.add", "hook": "data_post", "answer": "cont"}, http["results"])
        self.assertEqual((smtp["outcome"], smtp["mail_from"], smtp["client"]["helo"]),
                         ("refused", "b@example.org", "client.example.org"))
        refusal = [r for r in smtp["results"] if r["answer"] == "deny"]
        self.assertEqual(refusal[0]["plugin"], "headers.add")
        self.assertIn("no From", refusal[0]["text"])

    def test_a_bad_separator_refuses_the_plugin(self):
        etc, files = plugin_tree(plugins="rcpt_to.extension\n",
                                 extra_files={"etc/plugins.d/rcpt_to.extension.yaml": {"separator": "ab"}})
        proc = self.check_tree(etc, files)
        self.assertEqual(proc.returncode, 2, proc.stdout)
        self.assertIn("separator", proc.stdout)

    def check_tree(self, etc, files):
        from harness import Haineko
        srv = Haineko(etc=etc, extra_files=files)
        self.addCleanup(srv.cleanup)
        return run_ctl("check", env={"HAINEKO_ROOT": srv.root})


DENIED = {"from": "deny@example.org", "to": ["a@example.jp"], "subject": "s", "text": "t"}


class BrokenPlugins(HainekoTestCase):
    start_server = False
    BROKEN = "local P = {}\nfunction P.hook_rcpt(conn, txn, rcpt)\n  return haineko.DENY +\nend\nreturn P\n"

    def tree(self, plugins="broken\n", source=None):
        from harness import Haineko
        etc, files = plugin_tree(plugins=plugins, extra_files={"plugins/broken.lua": source or self.BROKEN})
        srv = Haineko(etc=etc, extra_files=files)
        self.addCleanup(srv.cleanup)
        return srv

    def test_check_names_the_file_and_line(self):
        srv = self.tree()
        proc = run_ctl("check", env={"HAINEKO_ROOT": srv.root})
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn(os.path.join(srv.root, "plugins", "broken.lua") + ":4:", proc.stdout)

    def test_run_refuses_to_start(self):
        srv = self.tree()
        proc = run_ctl("run", "-p", str(free_port()), env={"HAINEKO_ROOT": srv.root}, timeout=20)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("broken.lua:4:", proc.stderr)

    def test_an_unknown_plugin_and_a_forbidden_name(self):
        srv = self.tree(plugins="# comment\n\nno_such_plugin\n")
        proc = run_ctl("check", env={"HAINEKO_ROOT": srv.root})
        self.assertEqual(proc.returncode, 2)
        self.assertIn("etc/plugins:3", proc.stdout)
        srv = self.tree(plugins="../escape\n")
        proc = run_ctl("check", env={"HAINEKO_ROOT": srv.root})
        self.assertEqual(proc.returncode, 2)
        self.assertIn("not a plugin name", proc.stdout)

    def test_no_escape_from_the_sandbox(self):
        for probe in ("io.open('/etc/passwd')", "os.execute('true')", "debug.getinfo(1)", "dofile('/x')",
                      "load(string.dump(print))", "getmetatable('').__index.rep = nil", "collectgarbage()"):
            source = "local ok = %s\nreturn {}\n" % probe
            srv = self.tree(source=source)
            proc = run_ctl("check", env={"HAINEKO_ROOT": srv.root})
            self.assertEqual(proc.returncode, 2, "%s was allowed: %s" % (probe, proc.stdout))

    def test_reload_keeps_the_old_set(self):
        etc, files = plugin_tree()
        srv = self.start_own_server(etc=etc, extra_files=files)
        self.assertEqual(srv.request("POST", "/v1/messages", body=json.dumps(DENIED)).status, 422)
        with open(os.path.join(srv.root, "plugins", "probe.lua"), "w") as f:
            f.write(self.BROKEN)
        proc = run_ctl("reload", env={"HAINEKO_ROOT": srv.root})
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("probe.lua:4:", proc.stderr)
        self.assertTrue(srv.wait_log("reload failed"), srv.stderr_text())
        resp = srv.request("POST", "/v1/messages", body=json.dumps(DENIED))
        self.assertEqual(resp.status, 422, "the old plugins must keep running: %r" % resp)
        with open(os.path.join(srv.root, "plugins", "probe.lua"), "w") as f:
            f.write("return {}\n")
        self.assertTrue(srv.reload())
        resp = srv.request("POST", "/v1/messages", body=json.dumps(DENIED))
        self.assertEqual(resp.status, 202, "the new plugins must run after a good reload: %r" % resp)


if __name__ == "__main__":
    unittest.main()
