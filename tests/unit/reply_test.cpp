#include <gtest/gtest.h>

#include <cctype>

#include <boost/json.hpp>

#include "core/json_text.hpp"
#include "core/reply.hpp"

using namespace haineko;

namespace {

struct Row {
    const char* group;
    const char* name;
    int code;
    const char* dsn;  // nullptr: none
    const char* text;
};

// The contract's table of checks (haineko-compat.md), plus conn/cannot-connect.
const Row kContract[] = {
    {"auth", "auth-required", 500, "5.7.1", "Access denied. Proper authentication required."},
    {"http", "method-not-supported", 421, nullptr, "GET method not supported"},
    {"auth", "access-denied", 500, "5.7.1", "Access denied"},
    {"http", "malformed-json", 421, nullptr, "Malformed JSON string"},
    {"conn", "detect-loop", 421, nullptr, "Detected message loop"},
    {"ehlo", "require-domain", 501, "5.0.0", "EHLO requires domain address"},
    {"ehlo", "invalid-domain", 501, "5.0.0", "Invalid domain name"},
    {"mail", "syntax-error", 501, "5.5.2", "Syntax error in parameters scanning \"FROM\""},
    {"mail", "domain-required", 553, "5.5.4", "Domain name required for sender address"},
    {"mail", "non-ascii", 553, "5.6.7", "non-ASCII address is not permitted"},
    {"rcpt", "address-required", 553, "5.0.0", "User address required"},
    {"rcpt", "too-many-recipients", 452, "4.5.3", "Too many recipients"},
    {"rcpt", "is-not-emailaddress", 553, "5.1.5", "Recipient address is invalid"},
    {"rcpt", "rejected", 553, "5.7.1", "Recipient address is not permitted"},
    {"data", "empty-body", 500, "5.6.0", "Message body is empty"},
    {"data", "mesg-too-big", 552, "5.2.3", "Message size exceeds fixed maximum message size"},
    {"data", "empty-subject", 500, "5.6.0", "Subject header is empty"},
    {"conf", "not-looks-like-number", 500, nullptr, "does not look like number"},
    {"conn", "cannot-connect", 421, nullptr, "Cannot connect SMTP Server"},
};

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// The reply's JSON entry, parsed back.
boost::json::object entry_of(const Reply& r) {
    JsonText out;
    r.write_json(out);
    return boost::json::parse(out.text()).as_object();
}

}  // namespace

TEST(NamedReply, EveryContractRow) {
    for (const auto& row : kContract) {
        SCOPED_TRACE(std::string(row.group) + "/" + row.name);
        Reply r = named_reply(row.group, row.name);
        EXPECT_EQ(r.code, row.code);
        if (row.dsn) {
            ASSERT_TRUE(r.dsn.has_value());
            EXPECT_EQ(*r.dsn, row.dsn);
        } else {
            EXPECT_FALSE(r.dsn.has_value());
        }
        ASSERT_EQ(r.message.size(), 1u);
        EXPECT_EQ(r.message[0], row.text);
        EXPECT_EQ(r.command, upper(row.group));
        EXPECT_FALSE(r.code_is_text);
        EXPECT_FALSE(r.host.has_value());
        EXPECT_FALSE(r.port.has_value());
        EXPECT_FALSE(r.rcpt.has_value());
        EXPECT_FALSE(r.mailer.has_value());
        EXPECT_TRUE(r.error());
    }
}

TEST(NamedReply, UnknownNameIsServerError) {
    Reply r = named_reply("rcpt", "no-such-name");
    EXPECT_EQ(r.code, 500);
    ASSERT_EQ(r.message.size(), 1u);
    EXPECT_EQ(r.message[0], "Internal Server Error");
    Reply g = named_reply("nosuchgroup", "rejected");
    EXPECT_EQ(g.code, 500);
    EXPECT_EQ(g.message.at(0), "Internal Server Error");
}

TEST(Reply, ErrorRange) {
    Reply r;
    r.code = 250;
    EXPECT_FALSE(r.error());
    r.code = 399;
    EXPECT_FALSE(r.error());
    r.code = 400;
    EXPECT_TRUE(r.error());
    r.code = 599;
    EXPECT_TRUE(r.error());
    r.code = 600;
    EXPECT_FALSE(r.error());
}

TEST(ParseSmtpReply, SingleLineWithEnhancedCode) {
    Reply r = parse_smtp_reply("quit", {"221 2.0.0 closing connection\r\n"});
    EXPECT_EQ(r.code, 221);
    EXPECT_TRUE(r.code_is_text);
    EXPECT_EQ(r.command, "QUIT");
    ASSERT_TRUE(r.dsn.has_value());
    EXPECT_EQ(*r.dsn, "2.0.0");
    ASSERT_EQ(r.message.size(), 1u);
    EXPECT_EQ(r.message[0], "2.0.0 closing connection");
    EXPECT_FALSE(r.error());
}

TEST(ParseSmtpReply, MultiLineKeepsEveryLine) {
    Reply r = parse_smtp_reply("ehlo", {"250-mx.example.jp Hello", "250-PIPELINING", "250-SIZE 10240000",
                                        "250 8BITMIME"});
    EXPECT_EQ(r.code, 250);
    EXPECT_EQ(r.command, "EHLO");
    ASSERT_EQ(r.message.size(), 4u);
    EXPECT_EQ(r.message[0], "mx.example.jp Hello");
    EXPECT_EQ(r.message[1], "PIPELINING");
    EXPECT_EQ(r.message[2], "SIZE 10240000");
    EXPECT_EQ(r.message[3], "8BITMIME");
    EXPECT_FALSE(r.dsn.has_value());
}

TEST(ParseSmtpReply, MultiLineErrorWithDsn) {
    Reply r = parse_smtp_reply("rcpt", {"550-5.1.1 The email account that you tried to reach does not exist.",
                                        "550 5.1.1 https://support.example.com/mail/?p=NoSuchUser"});
    EXPECT_EQ(r.code, 550);
    ASSERT_TRUE(r.dsn.has_value());
    EXPECT_EQ(*r.dsn, "5.1.1");
    EXPECT_TRUE(r.error());
    ASSERT_EQ(r.message.size(), 2u);
    EXPECT_EQ(r.message[1], "5.1.1 https://support.example.com/mail/?p=NoSuchUser");
}

TEST(ParseSmtpReply, TemporaryFailure) {
    Reply r = parse_smtp_reply("data", {"451 4.7.1 Greylisted, try again later"});
    EXPECT_EQ(r.code, 451);
    EXPECT_EQ(r.dsn.value_or(""), "4.7.1");
    EXPECT_TRUE(r.error());
}

TEST(ParseSmtpReply, DsnIsAWordNotAPartOfOne) {
    // an IP address, a dotted word or a class-1 triple is not an enhanced status code
    Reply r = parse_smtp_reply("ehlo", {"250 mx.example.jp ESMTP ready v2.0.0a"});
    EXPECT_FALSE(r.dsn.has_value());
    Reply ip = parse_smtp_reply("mail", {"250 ok from 192.0.2.1"});
    EXPECT_FALSE(ip.dsn.has_value());
    Reply bad_class = parse_smtp_reply("mail", {"250 1.2.3 nope"});
    EXPECT_FALSE(bad_class.dsn.has_value());
    // as the original, the code may stand anywhere in the text as a word of its own
    Reply later = parse_smtp_reply("mail", {"250 Ok: queued as ABC 2.0.0"});
    EXPECT_EQ(later.dsn.value_or(""), "2.0.0");
}

TEST(ParseSmtpReply, BareCode) {
    Reply r = parse_smtp_reply("data", {"354"});
    EXPECT_EQ(r.code, 354);
    EXPECT_FALSE(r.dsn.has_value());
}

TEST(ReplyJson, NamedReplyShape) {
    Reply r = named_reply("rcpt", "rejected");
    r.rcpt = "a@example.jp";
    auto o = entry_of(r);
    EXPECT_EQ(o.size(), 9u);
    EXPECT_EQ(o.at("dsn").as_string(), "5.7.1");
    ASSERT_TRUE(o.at("code").is_int64());
    EXPECT_EQ(o.at("code").as_int64(), 553);
    EXPECT_TRUE(o.at("host").is_null());
    EXPECT_TRUE(o.at("port").is_null());
    EXPECT_EQ(o.at("rcpt").as_string(), "a@example.jp");
    EXPECT_EQ(o.at("error").as_int64(), 1);
    EXPECT_TRUE(o.at("mailer").is_null());
    EXPECT_EQ(o.at("command").as_string(), "RCPT");
    ASSERT_TRUE(o.at("message").is_array());
    ASSERT_EQ(o.at("message").as_array().size(), 1u);
    EXPECT_EQ(o.at("message").as_array()[0].as_string(), "Recipient address is not permitted");
}

TEST(ReplyJson, NoDsnIsNull) {
    auto o = entry_of(named_reply("http", "malformed-json"));
    EXPECT_TRUE(o.at("dsn").is_null());
    EXPECT_EQ(o.at("code").as_int64(), 421);
    EXPECT_EQ(o.at("command").as_string(), "HTTP");
}

TEST(ReplyJson, RelayReplyCodeIsText) {
    Reply r = parse_smtp_reply("QUIT", {"221 2.0.0 Bye"});
    r.host = "smtp.example.net";
    r.port = 10587;
    r.mailer = "ESMTP";
    r.rcpt = "a@example.jp";
    auto o = entry_of(r);
    ASSERT_TRUE(o.at("code").is_string());
    EXPECT_EQ(o.at("code").as_string(), "221");
    EXPECT_EQ(o.at("dsn").as_string(), "2.0.0");
    EXPECT_EQ(o.at("host").as_string(), "smtp.example.net");
    EXPECT_EQ(o.at("port").as_int64(), 10587);
    EXPECT_EQ(o.at("mailer").as_string(), "ESMTP");
    EXPECT_EQ(o.at("error").as_int64(), 0);
    EXPECT_EQ(o.at("command").as_string(), "QUIT");
    EXPECT_EQ(o.at("message").as_array().at(0).as_string(), "2.0.0 Bye");
}

// The answers are written without boost::json, so they must read back as the same text
// boost::json would write: every escape, every control character.
TEST(JsonText, SameTextAsBoostJson) {
    std::string every_byte;  // every ASCII byte (the others are UTF-8 sequences or repaired)
    for (int c = 1; c < 128; ++c) every_byte += static_cast<char>(c);
    for (const std::string& s : {std::string(), std::string("plain"), std::string("q\"b\\s/"), every_byte,
                                 std::string("\xE3\x81\xAD\xE3\x81\x93")}) {
        std::string mine;
        append_json_string(mine, s);
        EXPECT_EQ(mine, boost::json::serialize(boost::json::value(s)));
    }
    // Found by fuzzing: a relay's reply in bytes that are not UTF-8 must still make JSON.
    std::string repaired;
    append_json_string(repaired, "250 ok \xff\xfe");
    EXPECT_EQ(repaired, "\"250 ok \xEF\xBF\xBD\xEF\xBF\xBD\"");
    JsonText t;
    t.begin_object().key("a").number(-5).key("b").begin_array().string("x").null().begin_object().end_object().end_array();
    t.key("c").number_or_null(std::nullopt).key("d").string_or_null(std::string("e")).end_object();
    EXPECT_EQ(t.text(), R"({"a":-5,"b":["x",null,{}],"c":null,"d":"e"})");
}
