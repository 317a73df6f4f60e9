#include <gtest/gtest.h>

#include "http/submission_json.hpp"

using namespace haineko;

namespace {

Config test_config() {
    Config c;
    c.smtpd.hostname = "mx.example.jp";
    c.node_id = "mx.example.jp:2794";
    c.recipients.domains = {"example.jp"};
    c.recipients.addresses = {"kijitora@example.org"};
    return c;
}

Submission base() {
    Submission s;
    s.queueid = "r5jG0gAbcdefghij";
    s.client.address = "127.0.0.1";
    return s;
}

boost::json::object good_request() {
    return boost::json::parse(R"({
        "ehlo": "client.example.net",
        "mail": "sender@example.org",
        "rcpt": ["a@example.jp"],
        "header": {"from": "Sender <sender@example.org>", "subject": "Hello", "replyto": "list@example.org"},
        "body": "Body text"
    })").as_object();
}

CheckOutcome check(const Config& c, const boost::json::object& request) {
    return check_submission_text(c, boost::json::serialize(request), base());
}

// The outcome is the one named failure with the given HTTP status.
void expect_failure(const CheckOutcome& out, int status, const char* group, const char* name) {
    SCOPED_TRACE(std::string(group) + "/" + name);
    EXPECT_EQ(out.http_status, status);
    EXPECT_FALSE(out.ready_to_relay());
    ASSERT_EQ(out.replies.size(), 1u);
    Reply expected = named_reply(group, name);
    EXPECT_EQ(out.replies[0].code, expected.code);
    EXPECT_EQ(out.replies[0].dsn, expected.dsn);
    EXPECT_EQ(out.replies[0].message, expected.message);
    EXPECT_EQ(out.replies[0].command, expected.command);
}

// A submission whose only recipient is rcpt: it must be refused with one reply for rcpt.
Reply only_recipient_refused(const Config& c, const std::string& rcpt) {
    auto r = good_request();
    r["rcpt"] = boost::json::array{boost::json::value(rcpt)};
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 400);
    EXPECT_TRUE(out.submission.rcpt.empty());
    EXPECT_EQ(out.replies.size(), 1u);
    Reply reply = out.replies.empty() ? Reply{} : out.replies[0];
    EXPECT_EQ(reply.code, 553);
    EXPECT_EQ(reply.rcpt.value_or(""), rcpt);
    return reply;
}

}  // namespace

TEST(SubmitChecks, GoodSubmissionIsReady) {
    Config c = test_config();
    CheckOutcome out = check(c, good_request());
    EXPECT_EQ(out.http_status, 200);
    EXPECT_TRUE(out.ready_to_relay());
    EXPECT_TRUE(out.replies.empty());
    const Submission& s = out.submission;
    EXPECT_EQ(s.queueid, "r5jG0gAbcdefghij");
    EXPECT_EQ(s.client.address, "127.0.0.1");
    EXPECT_EQ(s.ehlo, "client.example.net");
    EXPECT_EQ(s.mail, "sender@example.org");
    EXPECT_EQ(s.rcpt, std::vector<std::string>{"a@example.jp"});
    EXPECT_EQ(s.header.from, "Sender <sender@example.org>");
    EXPECT_EQ(s.header.subject, "Hello");
    EXPECT_EQ(s.header.replyto, "list@example.org");
    EXPECT_EQ(s.header.charset, "UTF-8");
    EXPECT_EQ(s.body, "Body text");
    // this server's name goes on the loop list
    EXPECT_EQ(s.header.loop, std::vector<std::string>{"mx.example.jp:2794"});
}

TEST(SubmitChecks, RelaxedJsonBody) {
    Config c = test_config();
    CheckOutcome out = check_submission_text(
        c,
        "{ ehlo: 'client.example.net', mail: 'sender@example.org', rcpt: ['a@example.jp'], "
        "header: { subject: 'Hi', }, body: 'text', }",
        base());
    EXPECT_EQ(out.http_status, 200);
    EXPECT_EQ(out.submission.header.subject, "Hi");
}

TEST(SubmitChecks, Row4MalformedJson) {
    Config c = test_config();
    expect_failure(check_submission_text(c, "not json at all", base()), 400, "http", "malformed-json");
    expect_failure(check_submission_text(c, "", base()), 400, "http", "malformed-json");
    expect_failure(check_submission_text(c, "[1, 2]", base()), 400, "http", "malformed-json");
    expect_failure(check_submission_text(c, "\"a string\"", base()), 400, "http", "malformed-json");
    expect_failure(check_submission_text(c, "{\"body\":\"caf\xe9\"}", base()), 400, "http", "malformed-json");
    // a content field that is not text (the original wrote "ARRAY(0x...)" into the mail)
    auto subject_list = good_request();
    subject_list["header"].as_object()["subject"] = boost::json::array{"a"};
    expect_failure(check(c, subject_list), 400, "http", "malformed-json");
    auto body_object = good_request();
    body_object["body"] = boost::json::object{{"a", 1}};
    expect_failure(check(c, body_object), 400, "http", "malformed-json");
    // malformed beats every later check
    expect_failure(check_submission_text(c, "{ehlo: }", base()), 400, "http", "malformed-json");
}

// A wrong JSON type in a field a check reads answers that check's error, as the original
// did (it read "ARRAY(0x...)"), not http/malformed-json.
TEST(SubmitChecks, WrongTypeInACheckedFieldFailsThatCheck) {
    Config c = test_config();
    auto ehlo_list = good_request();
    ehlo_list["ehlo"] = boost::json::array{"a", "b"};
    expect_failure(check(c, ehlo_list), 400, "ehlo", "invalid-domain");
    auto ehlo_object = good_request();
    ehlo_object["ehlo"] = boost::json::object{{"host", "client.example.net"}};
    expect_failure(check(c, ehlo_object), 400, "ehlo", "invalid-domain");
    auto mail_list = good_request();
    mail_list["mail"] = boost::json::array{"sender@example.org"};
    expect_failure(check(c, mail_list), 400, "mail", "domain-required");
    // an object holding "<addr>" is still not an address
    auto mail_object = good_request();
    mail_object["mail"] = boost::json::object{{"x", "<sender@example.org>"}};
    expect_failure(check(c, mail_object), 400, "mail", "domain-required");
    auto rcpt_element = good_request();
    rcpt_element["rcpt"] = boost::json::array{boost::json::array{"a@example.jp"}, "b@example.jp"};
    CheckOutcome out = check(c, rcpt_element);
    EXPECT_EQ(out.http_status, 200);
    ASSERT_EQ(out.replies.size(), 1u);
    EXPECT_EQ(out.replies[0].code, 553);
    EXPECT_EQ(out.replies[0].dsn, "5.1.5");
    EXPECT_EQ(out.replies[0].rcpt, "[\"a@example.jp\"]");
    EXPECT_EQ(out.submission.rcpt, std::vector<std::string>{"b@example.jp"});
    auto rcpt_object = good_request();
    rcpt_object["rcpt"] = boost::json::object{{"to", "a@example.jp"}};
    out = check(c, rcpt_object);
    EXPECT_EQ(out.http_status, 400);
    ASSERT_EQ(out.replies.size(), 1u);
    EXPECT_EQ(out.replies[0].dsn, "5.1.5");
    // header that is not an object is no header: the subject check fails
    auto header_text = good_request();
    header_text["header"] = "subject";
    expect_failure(check(c, header_text), 400, "data", "empty-subject");
}

TEST(SubmitChecks, EnvelopeAddressesWithNamesOrSpaces) {
    Config c = test_config();
    auto r = good_request();
    r["mail"] = "Sender <sender@example.org>";
    r["rcpt"] = boost::json::array{" a@example.jp ", "Neko <b@example.jp>"};
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 200);
    EXPECT_EQ(out.submission.mail, "sender@example.org");
    EXPECT_EQ(out.submission.rcpt, (std::vector<std::string>{"a@example.jp", "b@example.jp"}));
}

// Keys in header are matched without regard to case (the contract's deliberate difference).
TEST(SubmitChecks, HeaderKeysInAnyCase) {
    Config c = test_config();
    auto r = good_request();
    r["header"] = boost::json::object{{"SUBJECT", "Loud"}, {"Reply-to", "list@example.org"}, {"FROM", "A <sender@example.org>"},
                                      {"X-HAINEKO-LOOP", "hop.example.net"}, {"RECEIVED", "from x by y"}};
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 200);
    EXPECT_EQ(out.submission.header.subject, "Loud");
    EXPECT_EQ(out.submission.header.replyto, "list@example.org");
    EXPECT_EQ(out.submission.header.from, "A <sender@example.org>");
    EXPECT_EQ(out.submission.header.loop, (std::vector<std::string>{"hop.example.net", "mx.example.jp:2794"}));
    EXPECT_EQ(out.submission.header.received, std::vector<std::string>{"from x by y"});
}

TEST(SubmitChecks, NumbersInStringFieldsAreShortest) {
    Config c = test_config();
    auto r = good_request();
    r["header"].as_object()["subject"] = 1.25;
    r["body"] = 1e20;
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 200);
    EXPECT_EQ(out.submission.header.subject, "1.25");
    EXPECT_EQ(out.submission.body, "1e+20");
}

TEST(SubmitChecks, HeaderFromAddressMustBeAsciiAndShort) {
    Config c = test_config();
    auto non_ascii = good_request();
    non_ascii["header"].as_object()["from"] = "\xE3\x81\xAD\xE3\x81\x93 <\xE3\x81\xAD\xE3\x81\x93@example.org>";
    expect_failure(check(c, non_ascii), 400, "mail", "non-ascii");
    auto reply_to = good_request();
    reply_to["header"].as_object()["replyto"] = "\xC3\xA9t\xC3\xA9@example.org";
    expect_failure(check(c, reply_to), 400, "mail", "non-ascii");
    auto too_long = good_request();
    too_long["header"].as_object()["from"] = "Name <" + std::string(1500, 'a') + "@example.org>";
    CheckOutcome out = check(c, too_long);
    expect_failure(out, 400, "mail", "address-too-long");
    EXPECT_NE(out.replies[0].cause.find("header.from"), std::string::npos);
    // a non-ASCII display name with an ASCII address is fine
    auto name_only = good_request();
    name_only["header"].as_object()["from"] = "\xE3\x81\xAD\xE3\x81\x93 <sender@example.org>";
    EXPECT_EQ(check(c, name_only).http_status, 200);
}

TEST(SubmitChecks, LengthLimitsOfRfc5321) {
    Config c = test_config();
    auto long_local = good_request();
    long_local["rcpt"] = boost::json::array{std::string(10000, 'a') + "@example.jp"};
    CheckOutcome out = check(c, long_local);
    EXPECT_EQ(out.http_status, 400);
    ASSERT_EQ(out.replies.size(), 1u);
    EXPECT_EQ(out.replies[0].dsn, "5.1.5");
    auto mail65 = good_request();
    mail65["mail"] = std::string(65, 'a') + "@example.org";
    expect_failure(check(c, mail65), 400, "mail", "domain-required");
    auto mail64 = good_request();
    mail64["mail"] = std::string(64, 'a') + "@example.org";
    EXPECT_EQ(check(c, mail64).http_status, 200);
}

TEST(SubmitChecks, CausesForTheLog) {
    Config c = test_config();
    CheckOutcome bad = check_submission_text(c, "{\"ehlo\": \"x\",\n \"mail\": [}", base());
    ASSERT_EQ(bad.replies.size(), 1u);
    EXPECT_NE(bad.replies[0].cause.find("line 2"), std::string::npos) << bad.replies[0].cause;
    auto r = good_request();
    r["rcpt"] = boost::json::array{"a@example.jp", "x@elsewhere.example"};
    CheckOutcome out = check(c, r);
    ASSERT_EQ(out.replies.size(), 1u);
    EXPECT_NE(out.replies[0].cause.find("recipients"), std::string::npos);
    r["header"].as_object()["x-haineko-loop"] = "mx.example.jp:2794";
    out = check(c, r);
    ASSERT_EQ(out.replies.size(), 1u);
    EXPECT_NE(out.replies[0].cause.find("mx.example.jp:2794"), std::string::npos);
}

TEST(SubmitChecks, Row5LoopDetection) {
    Config c = test_config();
    auto r = good_request();
    r["header"].as_object()["x-haineko-loop"] = boost::json::array{"a.example.net", "mx.example.jp"};
    expect_failure(check(c, r), 400, "conn", "detect-loop");
    r["header"].as_object()["x-haineko-loop"] = "a.example.net, mx.example.jp:2794";
    expect_failure(check(c, r), 400, "conn", "detect-loop");
    // another node on this host (same name, another port) is not this server
    r["header"].as_object()["x-haineko-loop"] = "mx.example.jp:2795";
    EXPECT_EQ(check(c, r).http_status, 200);
    r["header"].as_object()["x-haineko-loop"] = "a.example.net, mx.example.jp";
    // loop is checked before the EHLO
    r["ehlo"] = "";
    expect_failure(check(c, r), 400, "conn", "detect-loop");
}

TEST(SubmitChecks, LoopListIsCarriedAndExtended) {
    Config c = test_config();
    auto r = good_request();
    r["header"].as_object()["x-haineko-loop"] = "a.example.net,b.example.net";
    r["header"].as_object()["received"] = boost::json::array{"from x by y", "from y by z"};
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 200);
    EXPECT_EQ(out.submission.header.loop,
              (std::vector<std::string>{"a.example.net", "b.example.net", "mx.example.jp:2794"}));
    EXPECT_EQ(out.submission.header.received, (std::vector<std::string>{"from x by y", "from y by z"}));
}

TEST(SubmitChecks, Row6EhloEmpty) {
    Config c = test_config();
    auto r = good_request();
    r["ehlo"] = "";
    r["mail"] = "";  // a later fault
    expect_failure(check(c, r), 400, "ehlo", "require-domain");
    r.erase("ehlo");
    expect_failure(check(c, r), 400, "ehlo", "require-domain");
}

TEST(SubmitChecks, Row7EhloInvalid) {
    Config c = test_config();
    for (const char* bad : {"localhost", "cat@example.jp", "[300.1.1.1]", "example.123"}) {
        auto r = good_request();
        r["ehlo"] = bad;
        r["mail"] = "";
        expect_failure(check(c, r), 400, "ehlo", "invalid-domain");
    }
    for (const char* ok : {"[127.0.0.1]", "192.0.2.1", "client.example.net"}) {
        auto r = good_request();
        r["ehlo"] = ok;
        EXPECT_EQ(check(c, r).http_status, 200) << ok;
    }
}

TEST(SubmitChecks, Row8MailEmpty) {
    Config c = test_config();
    auto r = good_request();
    r["mail"] = "";
    r["rcpt"] = boost::json::array{};
    expect_failure(check(c, r), 400, "mail", "syntax-error");
}

TEST(SubmitChecks, Row9MailNotAnAddress) {
    Config c = test_config();
    for (const char* bad : {"sender", "Sender <sender>", "sender@", "@example.org"}) {
        auto r = good_request();
        r["mail"] = bad;
        r["rcpt"] = boost::json::array{};
        expect_failure(check(c, r), 400, "mail", "domain-required");
    }
}

TEST(SubmitChecks, Row10MailNonAscii) {
    Config c = test_config();
    auto r = good_request();
    r["mail"] = "\xe7\x8c\xab@example.jp";
    r["rcpt"] = boost::json::array{};
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 400);
    ASSERT_EQ(out.replies.size(), 1u);
    EXPECT_EQ(out.replies[0].code, 553);
    // 5.6.7 is the contract's answer; the original's 5.5.4 is acceptable too
    std::string dsn = out.replies[0].dsn.value_or("");
    EXPECT_TRUE(dsn == "5.6.7" || dsn == "5.5.4") << dsn;
    EXPECT_EQ(out.replies[0].command, "MAIL");
}

TEST(SubmitChecks, Row11RcptEmpty) {
    Config c = test_config();
    auto r = good_request();
    r["rcpt"] = boost::json::array{};
    r["body"] = "";
    expect_failure(check(c, r), 400, "rcpt", "address-required");
    r.erase("rcpt");
    expect_failure(check(c, r), 400, "rcpt", "address-required");
    r["rcpt"] = "";
    expect_failure(check(c, r), 400, "rcpt", "address-required");
}

TEST(SubmitChecks, Row12TooManyRecipients) {
    Config c = test_config();
    auto r = good_request();
    r["rcpt"] = boost::json::array{"a@example.jp", "b@example.jp", "c@example.jp", "d@example.jp", "e@example.jp"};
    expect_failure(check(c, r), 403, "rcpt", "too-many-recipients");
    // counted before any recipient is looked at
    r["rcpt"] = boost::json::array{"x", "y", "z", "w", "v"};
    expect_failure(check(c, r), 403, "rcpt", "too-many-recipients");
    // exactly the maximum is fine
    r["rcpt"] = boost::json::array{"a@example.jp", "b@example.jp", "c@example.jp", "d@example.jp"};
    EXPECT_EQ(check(c, r).http_status, 200);
    // 0 means unlimited
    c.smtpd.max_rcpts_per_message = {0, true};
    boost::json::array many;
    for (int i = 0; i < 50; ++i) many.emplace_back("u" + std::to_string(i) + "@example.jp");
    r["rcpt"] = many;
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 200);
    EXPECT_EQ(out.submission.rcpt.size(), 50u);
}

TEST(SubmitChecks, NonNumericMaxRcptsIsAConfError) {
    Config c = test_config();
    c.smtpd.max_rcpts_per_message = {4, false};
    expect_failure(check(c, good_request()), 500, "conf", "not-looks-like-number");
}

TEST(SubmitChecks, Row13InvalidRecipient) {
    Reply r = only_recipient_refused(test_config(), "not-an-address");
    EXPECT_EQ(r.dsn.value_or(""), "5.1.5");
    EXPECT_EQ(r.message.at(0), "Recipient address is invalid");
}

TEST(SubmitChecks, Row13NonAsciiRecipient) {
    Reply r = only_recipient_refused(test_config(), "\xe7\x8c\xab@example.jp");
    std::string dsn = r.dsn.value_or("");
    EXPECT_TRUE(dsn == "5.6.7" || dsn == "5.1.5") << dsn;
}

TEST(SubmitChecks, Row14RecipientNotPermitted) {
    Config c = test_config();
    Reply refused = only_recipient_refused(c, "someone@example.com");
    EXPECT_EQ(refused.dsn.value_or(""), "5.7.1");
    EXPECT_EQ(refused.message.at(0), "Recipient address is not permitted");
    EXPECT_EQ(refused.command, "RCPT");
    auto r = good_request();
    // listed address and domain, case-insensitively
    r["rcpt"] = boost::json::array{"kijitora@EXAMPLE.org", "b@Example.JP"};
    CheckOutcome ok = check(c, r);
    EXPECT_EQ(ok.http_status, 200);
    EXPECT_EQ(ok.submission.rcpt.size(), 2u);
    // open relay permits anybody
    c.recipients.open_relay = true;
    r["rcpt"] = boost::json::array{"someone@example.com"};
    EXPECT_EQ(check(c, r).http_status, 200);
}

TEST(SubmitChecks, PartialRecipientRejection) {
    Config c = test_config();
    auto r = good_request();
    r["rcpt"] = boost::json::array{"a@example.jp", "bad-address", "x@example.com", "b@example.jp"};
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 200);
    EXPECT_TRUE(out.ready_to_relay());
    EXPECT_EQ(out.submission.rcpt, (std::vector<std::string>{"a@example.jp", "b@example.jp"}));
    ASSERT_EQ(out.replies.size(), 2u);
    EXPECT_EQ(out.replies[0].rcpt.value_or(""), "bad-address");
    EXPECT_EQ(out.replies[0].dsn.value_or(""), "5.1.5");
    EXPECT_EQ(out.replies[1].rcpt.value_or(""), "x@example.com");
    EXPECT_EQ(out.replies[1].dsn.value_or(""), "5.7.1");
    for (const auto& reply : out.replies) EXPECT_TRUE(reply.error());
}

TEST(SubmitChecks, Row15NobodyLeft) {
    Config c = test_config();
    auto r = good_request();
    r["rcpt"] = boost::json::array{"bad-address", "x@example.com"};
    r["body"] = "";  // would fail at 16, but 15 comes first
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 400);
    ASSERT_EQ(out.replies.size(), 2u);
    EXPECT_EQ(out.replies[0].rcpt.value_or(""), "bad-address");
    EXPECT_EQ(out.replies[1].rcpt.value_or(""), "x@example.com");
    EXPECT_TRUE(out.submission.rcpt.empty());
}

TEST(SubmitChecks, Row16EmptyBody) {
    Config c = test_config();
    auto r = good_request();
    r["body"] = "";
    r["header"].as_object()["subject"] = "";
    expect_failure(check(c, r), 400, "data", "empty-body");
    r.erase("body");
    expect_failure(check(c, r), 400, "data", "empty-body");
}

TEST(SubmitChecks, Row16AfterPartialRejectionStillFails) {
    Config c = test_config();
    auto r = good_request();
    r["rcpt"] = boost::json::array{"a@example.jp", "x@example.com"};
    r["body"] = "";
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 400);
    bool found = false;
    for (const auto& reply : out.replies)
        if (reply.message == named_reply("data", "empty-body").message) found = true;
    EXPECT_TRUE(found);
}

TEST(SubmitChecks, Row17MessageTooBig) {
    Config c = test_config();
    c.smtpd.max_message_size = {10, true};
    auto r = good_request();
    r["body"] = "12345678901";
    r["header"].as_object()["subject"] = "";
    expect_failure(check(c, r), 400, "data", "mesg-too-big");
    r["body"] = "1234567890";
    r["header"].as_object()["subject"] = "s";
    EXPECT_EQ(check(c, r).http_status, 200);
    // size is in bytes, not characters
    r["body"] = "\xe7\x8c\xab\xe7\x8c\xab\xe7\x8c\xab\xe7\x8c\xab";  // 4 characters, 12 bytes
    expect_failure(check(c, r), 400, "data", "mesg-too-big");
    c.smtpd.max_message_size = {0, true};
    r["body"] = std::string(100000, 'x');
    EXPECT_EQ(check(c, r).http_status, 200);
}

TEST(SubmitChecks, NonNumericMaxMessageSizeIsAConfError) {
    Config c = test_config();
    c.smtpd.max_message_size = {4194304, false};
    expect_failure(check(c, good_request()), 500, "conf", "not-looks-like-number");
}

TEST(SubmitChecks, Row18EmptySubject) {
    Config c = test_config();
    auto r = good_request();
    r["header"].as_object()["subject"] = "";
    expect_failure(check(c, r), 400, "data", "empty-subject");
    r["header"].as_object().erase("subject");
    expect_failure(check(c, r), 400, "data", "empty-subject");
    r.erase("header");
    expect_failure(check(c, r), 400, "data", "empty-subject");
}

TEST(SubmitChecks, Aliases) {
    Config c = test_config();
    boost::json::object r{{"helo", "client.example.net"},
                          {"send", "sender@example.org"},
                          {"recv", boost::json::array{"a@example.jp"}},
                          {"header", {{"subject", "s"}}},
                          {"body", "b"}};
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 200);
    EXPECT_EQ(out.submission.ehlo, "client.example.net");
    EXPECT_EQ(out.submission.mail, "sender@example.org");
    EXPECT_EQ(out.submission.rcpt, std::vector<std::string>{"a@example.jp"});

    boost::json::object r2{{"ehlo", "client.example.net"},
                           {"from", "other@example.org"},
                           {"to", "b@example.jp"},  // one recipient as a string
                           {"header", {{"subject", "s"}}},
                           {"body", "b"}};
    CheckOutcome out2 = check(c, r2);
    EXPECT_EQ(out2.http_status, 200);
    EXPECT_EQ(out2.submission.mail, "other@example.org");
    EXPECT_EQ(out2.submission.rcpt, std::vector<std::string>{"b@example.jp"});
}

TEST(SubmitChecks, HeaderKeysAndCharset) {
    Config c = test_config();
    auto r = good_request();
    auto& h = r["header"].as_object();
    h["charset"] = "ISO-2022-JP";
    h["x-unknown"] = "ignored";
    CheckOutcome out = check(c, r);
    EXPECT_EQ(out.http_status, 200);
    EXPECT_EQ(out.submission.header.charset, "ISO-2022-JP");
}

TEST(SubmitChecks, HeaderValuesAreOneLine) {
    Config c = test_config();
    auto r = good_request();
    auto& h = r["header"].as_object();
    h["subject"] = "Hello\r\nBcc: victim@example.org";
    h["from"] = "Evil\nBcc: victim@example.org <sender@example.org>";
    h["replyto"] = "a@example.org\rX: y";
    CheckOutcome out = check(c, r);
    ASSERT_EQ(out.http_status, 200);
    for (const std::string* v : {&out.submission.header.subject, &out.submission.header.from,
                                 &out.submission.header.replyto}) {
        EXPECT_EQ(v->find('\r'), std::string::npos) << *v;
        EXPECT_EQ(v->find('\n'), std::string::npos) << *v;
    }
}

TEST(SubmitChecks, CheckOrderIsTheContracts) {
    Config c = test_config();
    c.smtpd.max_message_size = {5, true};
    // every field wrong: each fix uncovers the next check
    boost::json::object r{{"header", {{"x-haineko-loop", "mx.example.jp"}}}};
    expect_failure(check(c, r), 400, "conn", "detect-loop");
    r["header"].as_object().erase("x-haineko-loop");
    expect_failure(check(c, r), 400, "ehlo", "require-domain");
    r["ehlo"] = "localhost";
    expect_failure(check(c, r), 400, "ehlo", "invalid-domain");
    r["ehlo"] = "client.example.net";
    expect_failure(check(c, r), 400, "mail", "syntax-error");
    r["mail"] = "nobody";
    expect_failure(check(c, r), 400, "mail", "domain-required");
    r["mail"] = "sender@example.org";
    expect_failure(check(c, r), 400, "rcpt", "address-required");
    r["rcpt"] = boost::json::array{"a@example.jp", "b@example.jp", "c@example.jp", "d@example.jp", "e@example.jp"};
    expect_failure(check(c, r), 403, "rcpt", "too-many-recipients");
    r["rcpt"] = boost::json::array{"a@example.jp"};
    expect_failure(check(c, r), 400, "data", "empty-body");
    r["body"] = "too long body";
    expect_failure(check(c, r), 400, "data", "mesg-too-big");
    r["body"] = "ok";
    expect_failure(check(c, r), 400, "data", "empty-subject");
    r["header"].as_object()["subject"] = "s";
    EXPECT_EQ(check(c, r).http_status, 200);
}

TEST(SubmitChecks, CheckSubmissionJsonDirectly) {
    Config c = test_config();
    CheckOutcome out = check_submission_json(c, good_request(), base());
    EXPECT_EQ(out.http_status, 200);
    expect_failure(check_submission_json(c, boost::json::value(42), base()), 400, "http", "malformed-json");
}

TEST(SubmitChecks, MaxWorkersNotANumberAnswers500ForSeveralRecipients) {
    Config c = test_config();
    c.smtpd.max_workers = NumberSetting{4, false};
    auto one = check(c, good_request());
    EXPECT_TRUE(one.ready_to_relay());
    auto request = good_request();
    request["rcpt"] = boost::json::array{"a@example.jp", "b@example.jp"};
    expect_failure(check(c, request), 500, "conf", "not-looks-like-number");
}
