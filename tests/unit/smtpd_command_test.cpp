// The SMTP server's readers: command lines, MAIL and RCPT arguments with their
// parameters, xtext, and DATA content with its end, its dots and its bare line ends.
#include <gtest/gtest.h>

#include "smtpd/command.hpp"
#include "smtpd/data_reader.hpp"

using namespace haineko::smtpd;

namespace {

MailFrom mail_ok(std::string_view arg) {
    auto r = parse_mail_from(arg);
    if (auto* refusal = std::get_if<Refusal>(&r)) ADD_FAILURE() << arg << ": " << refusal->code << " " << refusal->text;
    return std::holds_alternative<MailFrom>(r) ? std::get<MailFrom>(r) : MailFrom{};
}

Refusal mail_refused(std::string_view arg) {
    auto r = parse_mail_from(arg);
    EXPECT_TRUE(std::holds_alternative<Refusal>(r)) << arg;
    return std::holds_alternative<Refusal>(r) ? std::get<Refusal>(r) : Refusal{};
}

Refusal rcpt_refused(std::string_view arg, bool utf8 = false) {
    auto r = parse_rcpt_to(arg, utf8);
    EXPECT_TRUE(std::holds_alternative<Refusal>(r)) << arg;
    return std::holds_alternative<Refusal>(r) ? std::get<Refusal>(r) : Refusal{};
}

}  // namespace

TEST(SmtpdCommand, VerbsWithoutCaseAndTheirArgument) {
    Command c = parse_command("mail FROM:<a@example.jp>  ");
    EXPECT_EQ(c.verb, Verb::mail);
    EXPECT_EQ(c.name, "MAIL");
    EXPECT_EQ(c.arg, "FROM:<a@example.jp>");
    EXPECT_EQ(parse_command("StartTLS").verb, Verb::starttls);
    EXPECT_EQ(parse_command("XCLIENT ADDR=1.2.3.4").verb, Verb::unknown);
    EXPECT_EQ(parse_command("").verb, Verb::unknown);
    EXPECT_EQ(parse_command("QUIT").arg, "");
}

TEST(SmtpdCommand, MailFromAndItsParameters) {
    MailFrom m = mail_ok("FROM:<kijitora@example.jp> SIZE=1024 BODY=8BITMIME RET=hdrs ENVID=QQ+2B1");
    EXPECT_EQ(m.address, "kijitora@example.jp");
    EXPECT_EQ(m.size, 1024u);
    EXPECT_TRUE(m.eight_bit);
    EXPECT_EQ(m.ret, "HDRS");
    EXPECT_EQ(m.envid, "QQ+1");
    EXPECT_EQ(mail_ok("FROM:<>").address, "");                    // the null sender
    EXPECT_EQ(mail_ok("from: <a@example.jp>").address, "a@example.jp");  // a space after the colon
    EXPECT_EQ(mail_ok("FROM:<@relay.example,@b.example:a@example.jp>").address, "a@example.jp");
    EXPECT_TRUE(mail_ok("FROM:<猫@example.jp> SMTPUTF8").smtputf8);
    EXPECT_EQ(mail_ok("FROM:<a@example.jp> AUTH=<>").auth, "<>");
}

TEST(SmtpdCommand, MailFromRefusals) {
    EXPECT_EQ(mail_refused("FROM:a@example.jp").code, 501);          // no brackets
    EXPECT_EQ(mail_refused("TO:<a@example.jp>").code, 501);
    EXPECT_EQ(mail_refused("FROM:<a@example.jp").code, 501);
    EXPECT_EQ(mail_refused("FROM:<a@example.jp>x").code, 501);
    EXPECT_EQ(mail_refused("FROM:<not an address>").dsn, "5.1.7");
    EXPECT_EQ(mail_refused("FROM:<a@example.jp> SIZE=12x").code, 501);
    EXPECT_EQ(mail_refused("FROM:<a@example.jp> SIZE=1 SIZE=2").code, 501);
    EXPECT_EQ(mail_refused("FROM:<a@example.jp> BODY=BINARYMIME").code, 555);
    EXPECT_EQ(mail_refused("FROM:<a@example.jp> XFOO=1").code, 555);
    EXPECT_EQ(mail_refused("FROM:<a@example.jp> SMTPUTF8=yes").code, 501);
    EXPECT_EQ(mail_refused("FROM:<a@example.jp> ENVID=a=b").code, 501);
    const Refusal utf8 = mail_refused("FROM:<猫@example.jp>");
    EXPECT_EQ(utf8.code, 553);
    EXPECT_EQ(utf8.dsn, "5.6.7");
}

TEST(SmtpdCommand, RcptToAndItsParameters) {
    auto r = parse_rcpt_to("TO:<neko@example.jp> NOTIFY=failure,delay ORCPT=rfc822;neko+40example.jp", false);
    ASSERT_TRUE(std::holds_alternative<RcptTo>(r));
    EXPECT_EQ(std::get<RcptTo>(r).notify, "FAILURE,DELAY");
    EXPECT_EQ(std::get<RcptTo>(r).orcpt, "rfc822;neko@example.jp");
    EXPECT_TRUE(std::holds_alternative<RcptTo>(parse_rcpt_to("TO:<Postmaster>", false)));
    EXPECT_TRUE(std::holds_alternative<RcptTo>(parse_rcpt_to("TO:<猫@example.jp>", true)));
    EXPECT_EQ(rcpt_refused("TO:<>").dsn, "5.1.3");
    EXPECT_EQ(rcpt_refused("TO:<猫@example.jp>").code, 553);
    EXPECT_EQ(rcpt_refused("TO:<a@example.jp> NOTIFY=NEVER,SUCCESS").code, 501);
    EXPECT_EQ(rcpt_refused("TO:<a@example.jp> NOTIFY=FAILURE,FAILURE").code, 501);
    EXPECT_EQ(rcpt_refused("TO:<a@example.jp> ORCPT=nosemicolon").code, 501);
    EXPECT_EQ(rcpt_refused("TO:<a@example.jp> SIZE=1").code, 555);
}

TEST(SmtpdCommand, Xtext) {
    EXPECT_EQ(decode_xtext("a+2Bb+3D"), "a+b=");
    EXPECT_FALSE(decode_xtext("a+2"));
    EXPECT_FALSE(decode_xtext("a+2b"));  // lower-case hex
    EXPECT_FALSE(decode_xtext("a b"));
    EXPECT_FALSE(decode_xtext("a=b"));
}

TEST(SmtpdData, EndsAtCrlfDotCrlfAndRemovesLeadingDots) {
    DataReader d;
    const std::string input = "Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n";
    EXPECT_EQ(d.feed(input), input.size() - 6);
    EXPECT_TRUE(d.done());
    EXPECT_FALSE(d.bare_line_end());
    EXPECT_EQ(d.message(), "Subject: x\r\n\r\n.leading dot\r\n");
    DataReader empty;
    EXPECT_EQ(empty.feed(".\r\n"), 3u);
    EXPECT_TRUE(empty.done());
    EXPECT_EQ(empty.message(), "");
}

TEST(SmtpdData, AnyPiecesGiveTheSameMessage) {
    const std::string input = "a\r\n.b\r\n\r\n.\r\n";
    DataReader whole, bytes;
    whole.feed(input);
    for (char c : input) bytes.feed(std::string_view(&c, 1));
    EXPECT_TRUE(bytes.done());
    EXPECT_EQ(bytes.message(), whole.message());
    EXPECT_EQ(whole.message(), "a\r\nb\r\n\r\n");
}

TEST(SmtpdData, BareLineEndsEndNothingAndAreNoted) {
    for (const std::string smuggled : {"a\n.\nMAIL FROM:<x@example.jp>\r\n", "a\r.\rb\r\n", "a\r\n.\nb\r\n",
                                       "a\n.\r\nb\r\n"}) {
        DataReader d;
        const std::string input = smuggled + ".\r\n";
        EXPECT_EQ(d.feed(input), input.size()) << smuggled;  // read on to the real end
        EXPECT_TRUE(d.done());
        EXPECT_TRUE(d.bare_line_end()) << smuggled;
    }
}

TEST(SmtpdData, PastTheLimitOnlyCounts) {
    DataReader d(10);
    d.feed("0123456789abcdef\r\n.\r\n");
    EXPECT_TRUE(d.done());
    EXPECT_TRUE(d.too_large());
    EXPECT_EQ(d.size(), 18u);
    EXPECT_LE(d.message().size(), 10u);
}
