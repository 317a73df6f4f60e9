#include <gtest/gtest.h>

#include <regex>

#include "message/builder.hpp"
#include "message/charset.hpp"
#include "test_support.hpp"

using namespace haineko;
using namespace haineko::test;

namespace {

const std::string kNeko = "\xe7\x8c\xab";  // 猫
// 吾輩は猫である。
const std::string kJapanese =
    "\xe5\x90\xbe\xe8\xbc\xa9\xe3\x81\xaf\xe7\x8c\xab\xe3\x81\xa7\xe3\x81\x82\xe3\x82\x8b\xe3\x80\x82";

Config test_config() {
    Config c;
    c.smtpd.hostname = "mx.example.jp";
    return c;
}

Submission submission(const std::string& body, const std::string& charset = "UTF-8") {
    Submission s;
    s.queueid = "r5jG0gAbcdefghij";
    s.started = std::chrono::system_clock::from_time_t(1388741758);
    s.client.address = "192.0.2.1";
    s.client.port = 50320;
    s.client.useragent = "curl/8.5.0";
    s.client.referer = "http://example.org/form";
    s.ehlo = "client.example.net";
    s.mail = "sender@example.org";
    s.rcpt = {"a@example.jp", "b@example.jp"};
    s.header.from = "Sender <sender@example.org>";
    s.header.replyto = "list@example.org";
    s.header.subject = "Test subject";
    s.header.charset = charset;
    s.header.loop = {"hop.example.net", "mx.example.jp"};
    s.body = body;
    return s;
}

std::string full(const Submission& s, const std::string& rcpt = "a@example.jp") {
    return build_message(s, test_config()).for_recipient(rcpt);
}

// CRLF everywhere, no line longer than 998 octets.
void expect_wire_safe(const std::string& message) {
    for (size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\r') {
            ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
        }
        if (message[i] == '\n') {
            ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
        }
    }
    EXPECT_EQ(message.substr(message.size() - 2), "\r\n");
    for (const auto& line : crlf_lines(message)) EXPECT_LE(line.size(), 998u);
    EXPECT_EQ(message.find('\0'), std::string::npos);
}

// Headers are ASCII, and every line of the head either starts a field or continues one.
void expect_clean_head(const std::string& message) {
    auto lines = head_lines(message);
    ASSERT_FALSE(lines.empty());
    static const std::regex field_start("^[!-9;-~]+:.*");
    for (size_t i = 0; i < lines.size(); ++i) {
        const auto& l = lines[i];
        ASSERT_FALSE(l.empty());
        bool continuation = l[0] == ' ' || l[0] == '\t';
        EXPECT_TRUE(continuation ? i > 0 : std::regex_match(l, field_start)) << l;
        for (unsigned char c : l) EXPECT_LT(c, 0x80u) << l;
    }
}

std::string content_type(const std::string& message) { return header_value(message, "Content-Type").value_or(""); }
std::string cte(const std::string& message) { return header_value(message, "Content-Transfer-Encoding").value_or(""); }

}  // namespace

TEST(Builder, AsciiUtf8Is7bit) {
    std::string m = full(submission("Hello\nworld"));
    expect_wire_safe(m);
    expect_clean_head(m);
    EXPECT_EQ(content_type(m), "text/plain; charset=\"UTF-8\"");
    EXPECT_EQ(cte(m), "7bit");
    EXPECT_EQ(body_of(m), "Hello\r\nworld\r\n");
    BuiltMessage b = build_message(submission("Hello"), test_config());
    EXPECT_EQ(b.transfer_encoding, "7bit");
    EXPECT_FALSE(b.eight_bit());
}

TEST(Builder, Utf8NonAsciiIs8bit) {
    std::string body = kJapanese + "\n" + kNeko;
    BuiltMessage b = build_message(submission(body), test_config());
    EXPECT_EQ(b.charset, "UTF-8");
    EXPECT_EQ(b.transfer_encoding, "8bit");
    EXPECT_TRUE(b.eight_bit());
    std::string m = b.for_recipient("a@example.jp");
    expect_wire_safe(m);
    expect_clean_head(m);
    EXPECT_EQ(cte(m), "8bit");
    EXPECT_EQ(body_of(m), kJapanese + "\r\n" + kNeko + "\r\n");
}

TEST(Builder, Utf8LongLinesAreBase64) {
    std::string line;
    while (line.size() <= 1200) line += kNeko;
    std::string body = "short\n" + line + "\nend";
    BuiltMessage b = build_message(submission(body), test_config());
    EXPECT_EQ(b.transfer_encoding, "base64");
    std::string m = b.for_recipient("a@example.jp");
    expect_wire_safe(m);
    EXPECT_EQ(cte(m), "base64");
    for (const auto& l : crlf_lines(body_of(m))) EXPECT_LE(l.size(), 76u);
    EXPECT_EQ(base64_decode(body_of(m)).value_or("?"), "short\r\n" + line + "\r\nend\r\n");
}

TEST(Builder, AsciiLongLinesAreNotSentAsIs) {
    std::string line(2000, 'x');
    BuiltMessage b = build_message(submission(line), test_config());
    EXPECT_NE(b.transfer_encoding, "7bit");
    EXPECT_NE(b.transfer_encoding, "8bit");
    expect_wire_safe(b.for_recipient("a@example.jp"));
}

TEST(Builder, Iso2022JpIs7bit) {
    std::string body = kJapanese + "\n" + kNeko + " and ASCII";
    BuiltMessage b = build_message(submission(body, "iso-2022-jp"), test_config());
    EXPECT_EQ(b.charset, "ISO-2022-JP");
    EXPECT_EQ(b.transfer_encoding, "7bit");
    std::string m = b.for_recipient("a@example.jp");
    expect_wire_safe(m);
    expect_clean_head(m);
    EXPECT_EQ(content_type(m), "text/plain; charset=\"ISO-2022-JP\"");
    EXPECT_EQ(cte(m), "7bit");
    std::string wire_body = body_of(m);
    for (unsigned char c : wire_body) EXPECT_LT(c, 0x80u);
    EXPECT_EQ(wire_body, convert_from_utf8(kJapanese + "\r\n" + kNeko + " and ASCII\r\n", "ISO-2022-JP").value_or("?"));
    EXPECT_EQ(to_utf8(wire_body, "ISO-2022-JP").value_or("?"), kJapanese + "\r\n" + kNeko + " and ASCII\r\n");
}

TEST(Builder, Iso2022JpLongLinesAreBase64) {
    std::string line;
    for (int i = 0; i < 600; ++i) line += kNeko;  // 1200+ octets in ISO-2022-JP
    BuiltMessage b = build_message(submission(line, "ISO-2022-JP"), test_config());
    EXPECT_EQ(b.charset, "ISO-2022-JP");
    EXPECT_EQ(b.transfer_encoding, "base64");
    expect_wire_safe(b.for_recipient("a@example.jp"));
}

TEST(Builder, Iso2022JpUnrepresentableFallsBackToUtf8) {
    BuiltMessage b = build_message(submission("\xe2\x91\xa0 \xf0\x9f\x90\xb1", "ISO-2022-JP"), test_config());
    EXPECT_EQ(b.charset, "UTF-8");
    EXPECT_EQ(b.transfer_encoding, "8bit");
    std::string m = b.for_recipient("a@example.jp");
    EXPECT_EQ(content_type(m), "text/plain; charset=\"UTF-8\"");
}

TEST(Builder, Latin1NonAsciiIsQuotedPrintable) {
    BuiltMessage b = build_message(submission("caf\xc3\xa9 = tasty\n", "ISO-8859-1"), test_config());
    EXPECT_EQ(b.charset, "ISO-8859-1");
    EXPECT_EQ(b.transfer_encoding, "quoted-printable");
    std::string m = b.for_recipient("a@example.jp");
    expect_wire_safe(m);
    expect_clean_head(m);
    EXPECT_EQ(content_type(m), "text/plain; charset=\"ISO-8859-1\"");
    EXPECT_EQ(cte(m), "quoted-printable");
    EXPECT_EQ(body_of(m), "caf=E9 =3D tasty\r\n");
}

TEST(Builder, Latin1AsciiOnlyIs7bit) {
    BuiltMessage b = build_message(submission("plain", "ISO-8859-1"), test_config());
    EXPECT_EQ(b.charset, "ISO-8859-1");
    EXPECT_EQ(b.transfer_encoding, "7bit");
}

TEST(Builder, Latin1LongLinesStayWithin76) {
    std::string line;
    for (int i = 0; i < 700; ++i) line += "\xc3\xa9";
    BuiltMessage b = build_message(submission(line, "ISO-8859-1"), test_config());
    EXPECT_EQ(b.transfer_encoding, "quoted-printable");
    std::string m = b.for_recipient("a@example.jp");
    expect_wire_safe(m);
    for (const auto& l : crlf_lines(body_of(m))) EXPECT_LE(l.size(), 76u);
}

TEST(Builder, UsAscii) {
    BuiltMessage ascii = build_message(submission("plain text", "US-ASCII"), test_config());
    EXPECT_EQ(ascii.charset, "US-ASCII");
    EXPECT_EQ(ascii.transfer_encoding, "7bit");
    BuiltMessage fallback = build_message(submission("caf\xc3\xa9", "US-ASCII"), test_config());
    EXPECT_EQ(fallback.charset, "UTF-8");
    EXPECT_EQ(fallback.transfer_encoding, "8bit");
}

TEST(Builder, UnknownCharsetIsUtf8) {
    BuiltMessage b = build_message(submission(kNeko, "Shift_JIS"), test_config());
    EXPECT_EQ(b.charset, "UTF-8");
    EXPECT_EQ(content_type(b.for_recipient("a@example.jp")), "text/plain; charset=\"UTF-8\"");
}

TEST(Builder, NulInBodyIsNotSentRaw) {
    BuiltMessage b = build_message(submission(std::string("a\0b", 3)), test_config());
    EXPECT_EQ(b.transfer_encoding, "base64");
    expect_wire_safe(b.for_recipient("a@example.jp"));
}

TEST(Builder, LineEndingsAreCrlf) {
    std::string m = full(submission("one\rtwo\nthree\r\nfour\n\n"));
    expect_wire_safe(m);
    EXPECT_EQ(body_of(m), "one\r\ntwo\r\nthree\r\nfour\r\n\r\n");
}

TEST(Builder, ForRecipientPutsTheRightTo) {
    BuiltMessage b = build_message(submission("x"), test_config());
    std::string a = b.for_recipient("a@example.jp");
    std::string other = b.for_recipient("b@example.jp");
    EXPECT_EQ(count_headers(a, "To"), 1);
    EXPECT_EQ(header_value(a, "To").value_or(""), "a@example.jp");
    EXPECT_EQ(header_value(other, "To").value_or(""), "b@example.jp");
    EXPECT_EQ(a.find("b@example.jp"), std::string::npos);  // recipients never see each other
    EXPECT_EQ(other.find("a@example.jp"), std::string::npos);
    EXPECT_EQ(b.size_for("a@example.jp"), a.size());
    EXPECT_EQ(b.size_for("b@example.jp"), other.size());
    // To sits between From and Reply-To
    EXPECT_LT(a.find("\r\nFrom:"), a.find("\r\nTo:"));
    EXPECT_LT(a.find("\r\nTo:"), a.find("\r\nReply-To:"));
}

TEST(Builder, ReceivedNamesAnIpv6ClientAsAnAddressLiteral) {
    Submission s = submission("x");
    s.client.address = "2001:db8::1";
    std::string m = build_message(s, test_config()).for_recipient("a@example.jp");
    EXPECT_EQ(header_value(m, "Received").value_or("").rfind("from client.example.net ([IPv6:2001:db8::1]) by ", 0), 0u)
        << m;
}

TEST(Builder, AddedHeaders) {
    Submission s = submission("x");
    s.header.received = {"from a by b; Fri, 3 Jan 2014 18:35:58 +0900"};
    BuiltMessage b = build_message(s, test_config());
    std::string m = b.for_recipient("a@example.jp");
    expect_clean_head(m);
    EXPECT_EQ(m.rfind("Received:", 0), 0u) << m;
    EXPECT_EQ(header_value(m, "Received").value_or("").rfind(
                  "from client.example.net ([192.0.2.1]) by mx.example.jp with HTTP id r5jG0gAbcdefghij; ", 0),
              0u)
        << m;
    EXPECT_EQ(count_headers(m, "Received"), 2);
    EXPECT_NE(m.find("from a by b; Fri, 3 Jan 2014 18:35:58 +0900"), std::string::npos);
    std::string date = header_value(m, "Date").value_or("");
    EXPECT_TRUE(std::regex_match(date, std::regex(R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4})")))
        << date;
    std::string mid = header_value(m, "Message-Id").value_or("");
    EXPECT_TRUE(std::regex_match(mid, std::regex(R"(<r5jG0gAbcdefghij\.\d+\.1388741758\.\d{3}@mx\.example\.jp>)")))
        << mid;
    EXPECT_EQ("<" + b.message_id + ">", mid);
    EXPECT_EQ(header_value(m, "MIME-Version").value_or(""), "1.0");
    EXPECT_EQ(header_value(m, "From").value_or(""), "Sender <sender@example.org>");
    EXPECT_EQ(header_value(m, "Reply-To").value_or(""), "list@example.org");
    EXPECT_EQ(header_value(m, "Subject").value_or(""), "Test subject");
    EXPECT_EQ(header_value(m, "X-Mailer").value_or(""), "curl/8.5.0");
    EXPECT_EQ(header_value(m, "X-SMTP-Engine").value_or("").rfind("Haineko", 0), 0u);
    EXPECT_EQ(header_value(m, "X-HTTP-Referer").value_or(""), "http://example.org/form");
    EXPECT_EQ(header_value(m, "X-Haineko-Loop").value_or(""), "hop.example.net, mx.example.jp");
    EXPECT_EQ(header_value(m, "X-Originating-IP").value_or(""), "192.0.2.1");
    for (const char* once : {"Date", "Message-Id", "MIME-Version", "From", "To", "Subject", "Content-Type",
                             "Content-Transfer-Encoding", "X-Haineko-Loop"})
        EXPECT_EQ(count_headers(m, once), 1) << once;
}

TEST(Builder, OptionalHeadersLeftOut) {
    Submission s = submission("x");
    s.client.useragent.clear();
    s.client.referer.clear();
    s.header.replyto.clear();
    std::string m = full(s);
    EXPECT_EQ(count_headers(m, "X-Mailer"), 0);
    EXPECT_EQ(count_headers(m, "X-HTTP-Referer"), 0);
    EXPECT_EQ(count_headers(m, "Reply-To"), 0);
}

TEST(Builder, SenderOnlyWhenEnvelopeSenderDiffersFromFrom) {
    Submission same = submission("x");
    EXPECT_EQ(count_headers(full(same), "Sender"), 0);

    Submission same_case = submission("x");
    same_case.header.from = "Sender <sender@EXAMPLE.org>";
    EXPECT_EQ(count_headers(full(same_case), "Sender"), 0);

    Submission bare = submission("x");
    bare.header.from = "sender@example.org";
    EXPECT_EQ(count_headers(full(bare), "Sender"), 0);

    Submission no_from = submission("x");
    no_from.header.from.clear();
    std::string nf = full(no_from);
    EXPECT_EQ(count_headers(nf, "Sender"), 0);
    EXPECT_EQ(header_value(nf, "From").value_or(""), "sender@example.org");

    Submission differs = submission("x");
    differs.mail = "bounces@example.org";
    std::string d = full(differs);
    EXPECT_EQ(count_headers(d, "Sender"), 1);
    EXPECT_EQ(header_value(d, "Sender").value_or(""), "bounces@example.org");
    EXPECT_EQ(header_value(d, "From").value_or(""), "Sender <sender@example.org>");
}

TEST(Builder, NonAsciiHeadersAreEncodedInTheCharset) {
    Submission s = submission(kJapanese, "ISO-2022-JP");
    s.header.subject = kJapanese + kJapanese + kJapanese;
    s.header.from = kNeko + " <neko@example.jp>";
    s.mail = "neko@example.jp";
    std::string m = full(s);
    expect_wire_safe(m);
    expect_clean_head(m);
    for (const auto& l : head_lines(m)) EXPECT_LE(l.size(), 78u) << l;
    std::string subject = header_value(m, "Subject").value_or("");
    auto words = find_encoded_words(subject);
    ASSERT_FALSE(words.empty()) << subject;
    std::string decoded;
    for (const auto& w : words) {
        EXPECT_EQ(w.charset, "ISO-2022-JP");
        decoded += to_utf8(w.decoded, "ISO-2022-JP").value_or("?");
    }
    EXPECT_EQ(decoded, s.header.subject);
    std::string from = header_value(m, "From").value_or("");
    EXPECT_EQ(from, "=?ISO-2022-JP?B?" + base64_encode("\x1b$BG-\x1b(B") + "?= <neko@example.jp>");
    EXPECT_EQ(count_headers(m, "Sender"), 0);
}

TEST(Builder, Utf8SubjectIsEncoded) {
    Submission s = submission("x");
    s.header.subject = kNeko;
    std::string m = full(s);
    expect_clean_head(m);
    EXPECT_EQ(header_value(m, "Subject").value_or(""), "=?UTF-8?B?54yr?=");
}

TEST(Builder, HeaderInjectionIsImpossible) {
    Submission s = submission("x");
    s.header.subject = "Hi\r\nBcc: victim@example.org";
    s.header.from = "Evil\r\nBcc: victim@example.org <sender@example.org>";
    s.header.replyto = "a@example.org\nBcc: victim@example.org";
    s.client.useragent = "ua\r\nBcc: victim@example.org";
    s.client.referer = "http://x/\r\n\r\nbody";
    s.header.received = {"x\r\nBcc: victim@example.org"};
    s.header.loop = {"a\r\nBcc: victim@example.org", "mx.example.jp"};
    std::string m = full(s);
    expect_wire_safe(m);
    expect_clean_head(m);
    EXPECT_EQ(count_headers(m, "Bcc"), 0);
    EXPECT_EQ(body_of(m), "x\r\n");
}

TEST(Rfc5322Date, Format) {
    std::string d = rfc5322_date(std::chrono::system_clock::from_time_t(1388741758));
    EXPECT_TRUE(std::regex_match(d, std::regex(R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4})")))
        << d;
    EXPECT_NE(d.find("2014"), std::string::npos);
}
