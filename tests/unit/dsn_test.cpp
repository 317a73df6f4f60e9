#include <gtest/gtest.h>

#include "message/dsn.hpp"
#include "test_support.hpp"

using namespace haineko;
using namespace haineko::test;

namespace {

DsnReport report() {
    DsnReport r;
    r.hostname = "mx.example.jp";
    r.to = "kijitora@example.jp";
    r.queue_id = "Q1234";
    r.arrival = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
    r.now = r.arrival + std::chrono::seconds(60);
    r.original_header = "From: kijitora@example.jp\r\nTo: neko@example.org\r\nSubject: Nyaa\r\n";
    r.recipients = {{"neko@example.org", "5.1.1", "550 5.1.1 <neko@example.org>: no such user", "mx.example.org", ""},
                    {"tama@example.org", "", "554 rejected\r\nInjected: header", "", ""}};
    return r;
}

}  // namespace

TEST(Dsn, IsAMultipartReportWithItsThreeParts) {
    const BuiltDsn dsn = build_dsn(report());
    const std::string& m = dsn.message;
    EXPECT_EQ(header_value(m, "From").value_or(""), "Mail Delivery System <MAILER-DAEMON@mx.example.jp>");
    EXPECT_EQ(header_value(m, "To").value_or(""), "kijitora@example.jp");
    EXPECT_EQ(header_value(m, "Auto-Submitted").value_or(""), "auto-replied");
    EXPECT_NE(m.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
    EXPECT_EQ(header_value(m, "Message-Id").value_or(""), "<" + dsn.message_id + ">");
    EXPECT_NE(m.find("Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.jp\r\n"),
              std::string::npos);
    EXPECT_NE(m.find("Arrival-Date: "), std::string::npos);
    EXPECT_NE(m.find("Final-Recipient: rfc822; neko@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                     "Remote-MTA: dns; mx.example.org\r\nDiagnostic-Code: smtp; 550 5.1.1 <neko@example.org>: no such user\r\n"),
              std::string::npos);
    EXPECT_NE(m.find("Content-Type: text/rfc822-headers\r\n\r\nFrom: kijitora@example.jp\r\n"), std::string::npos);
    const std::string boundary = m.substr(m.find("boundary=\"") + 10, 28);
    EXPECT_NE(m.find("--" + boundary + "--\r\n"), std::string::npos);
}

TEST(Dsn, AReplyCannotBreakOutOfItsLine) {
    const std::string m = build_dsn(report()).message;
    EXPECT_EQ(m.find("\r\nInjected: header"), std::string::npos);
    EXPECT_NE(m.find("Status: 5.0.0"), std::string::npos);  // no status given
    for (const auto& line : crlf_lines(m)) EXPECT_LE(line.size(), 998u);
    DsnReport long_one = report();
    long_one.recipients[0].diagnostic = std::string(5000, 'x');
    for (const auto& line : crlf_lines(build_dsn(long_one).message)) EXPECT_LE(line.size(), 998u);
}

TEST(Dsn, HeaderSectionEndsAtTheBlankLine) {
    EXPECT_EQ(header_section("A: 1\r\nB: 2\r\n\r\nbody\r\n"), "A: 1\r\nB: 2\r\n");
    EXPECT_EQ(header_section("A: 1\r\n"), "A: 1\r\n");
}

TEST(Dsn, EnvelopeIdOriginalRecipientAndTheWholeMessageWhenAskedFor) {
    DsnReport r = report();
    r.envid = "QQ314159";
    r.recipients[0].orcpt = "rfc822;neko+orig@example.org";
    r.original_message = r.original_header + "\r\nthe body\r\n";
    const std::string m = build_dsn(r).message;
    EXPECT_NE(m.find("Reporting-MTA: dns; mx.example.jp\r\nOriginal-Envelope-Id: QQ314159\r\n"), std::string::npos);
    EXPECT_NE(m.find("Original-Recipient: rfc822;neko+orig@example.org\r\nFinal-Recipient: rfc822; neko@example.org\r\n"),
              std::string::npos);
    EXPECT_NE(m.find("Content-Type: message/rfc822\r\n\r\nFrom: kijitora@example.jp\r\n"), std::string::npos);
    EXPECT_NE(m.find("\r\nthe body\r\n"), std::string::npos);
    EXPECT_EQ(m.find("text/rfc822-headers"), std::string::npos);
}
