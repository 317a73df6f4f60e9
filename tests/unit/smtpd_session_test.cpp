// The SMTP server's session state machine: sequence, limits, policy at the stages where
// SMTP asks, AUTH PLAIN and LOGIN, STARTTLS forgetting, DATA and BDAT endings.
#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "smtpd/session.hpp"

using namespace haineko;
using namespace haineko::smtpd;

namespace {

SessionSettings settings() {
    SessionSettings s;
    s.hostname = "mx.example.jp";
    s.max_message_size = 1000;
    s.max_rcpts = 2;
    s.tls_offered = true;
    s.auth_offered = true;
    return s;
}

SessionPolicy policy(bool may_relay = true) {
    SessionPolicy p;
    p.client_may_relay = may_relay;
    p.rcpt_refusal = [](const std::string& rcpt) -> std::optional<Refusal> {
        if (rcpt.starts_with("nobody@")) return Refusal{553, "5.7.1", "Recipient address is not permitted"};
        return std::nullopt;
    };
    p.verify = [](const std::string& user, const std::string& password) {
        return user == "kijitora" && password == "nyaa";
    };
    return p;
}

std::string code_of(const Session::Step& s) { return s.answer.substr(0, 3); }

DataReader read_data(std::string_view bytes) {
    DataReader d;
    d.feed(bytes);
    return d;
}

}  // namespace

TEST(SmtpdSession, ATransactionFromEhloToQueued) {
    Session s(settings(), policy());
    EXPECT_EQ(s.greeting(), "220 mx.example.jp ESMTP Haineko\r\n");
    auto ehlo = s.on_line("EHLO client.example.net");
    EXPECT_NE(ehlo.answer.find("250-PIPELINING\r\n"), std::string::npos);
    EXPECT_NE(ehlo.answer.find("250-SIZE 1000\r\n"), std::string::npos);
    EXPECT_NE(ehlo.answer.find("STARTTLS\r\n"), std::string::npos);
    EXPECT_EQ(ehlo.answer.find("AUTH"), std::string::npos);  // not before TLS
    EXPECT_TRUE(ehlo.answer.ends_with("250 CHUNKING\r\n") || ehlo.answer.ends_with("250 STARTTLS\r\n"));
    EXPECT_EQ(code_of(s.on_line("MAIL FROM:<a@example.jp> SIZE=10")), "250");
    EXPECT_EQ(code_of(s.on_line("RCPT TO:<b@example.jp> NOTIFY=FAILURE")), "250");
    auto data = s.on_line("DATA");
    EXPECT_EQ(code_of(data), "354");
    EXPECT_EQ(data.next, Session::Next::data);
    auto end = s.on_data(read_data("Subject: x\r\n\r\nbody\r\n.\r\n"));
    EXPECT_EQ(end.next, Session::Next::commit);
    EXPECT_EQ(s.envelope().mail.address, "a@example.jp");
    ASSERT_EQ(s.envelope().rcpts.size(), 1u);
    EXPECT_EQ(s.envelope().rcpts[0].notify, "FAILURE");
    EXPECT_EQ(s.message(), "Subject: x\r\n\r\nbody\r\n");
    EXPECT_EQ(s.on_committed("kANQ1").answer, "250 2.0.0 Ok: queued as kANQ1\r\n");
    EXPECT_EQ(s.on_line("QUIT").next, Session::Next::close);
}

TEST(SmtpdSession, SequenceAndLimits) {
    Session s(settings(), policy());
    EXPECT_EQ(s.on_line("MAIL FROM:<a@example.jp>").answer, "503 5.5.1 Error: send HELO/EHLO first\r\n");
    EXPECT_EQ(code_of(s.on_line("HELO client.example.net")), "250");
    EXPECT_EQ(s.on_line("RCPT TO:<b@example.jp>").answer.substr(0, 9), "503 5.5.1");
    EXPECT_EQ(s.on_line("DATA").answer.substr(0, 9), "503 5.5.1");
    EXPECT_EQ(s.on_line("XYZZY").answer.substr(0, 9), "502 5.5.2");
    EXPECT_EQ(s.on_line("NOOP", true).answer.substr(0, 9), "500 5.5.2");
    EXPECT_EQ(s.on_line("MAIL FROM:<a@example.jp> SIZE=1001").answer.substr(0, 9), "552 5.3.4");
    EXPECT_EQ(code_of(s.on_line("MAIL FROM:<a@example.jp>")), "250");
    EXPECT_EQ(s.on_line("MAIL FROM:<a@example.jp>").answer.substr(0, 9), "503 5.5.1");
    EXPECT_EQ(s.on_line("DATA").answer.substr(0, 9), "554 5.5.1");  // no recipient yet
    EXPECT_EQ(code_of(s.on_line("RCPT TO:<b@example.jp>")), "250");
    EXPECT_EQ(s.on_line("RCPT TO:<nobody@example.jp>").answer, "553 5.7.1 Recipient address is not permitted\r\n");
    EXPECT_EQ(code_of(s.on_line("RCPT TO:<c@example.jp>")), "250");
    EXPECT_EQ(s.on_line("RCPT TO:<d@example.jp>").answer.substr(0, 9), "452 4.5.3");
    EXPECT_EQ(code_of(s.on_line("RSET")), "250");
    EXPECT_EQ(s.on_line("RCPT TO:<b@example.jp>").answer.substr(0, 9), "503 5.5.1");
    EXPECT_EQ(code_of(s.on_line("VRFY neko")), "252");
}

TEST(SmtpdSession, RelayIsDeniedUntilAuthenticated) {
    auto st = settings();
    st.auth_requires_tls = false;
    Session s(st, policy(false));
    EXPECT_TRUE(s.on_line("EHLO client.example.net").answer.ends_with("250 AUTH PLAIN LOGIN\r\n"));
    s.on_line("MAIL FROM:<a@example.jp>");
    EXPECT_EQ(s.on_line("RCPT TO:<b@example.jp>").answer, "554 5.7.1 Relay access denied\r\n");
    s.on_line("RSET");
    EXPECT_EQ(s.on_line("AUTH PLAIN " + base64_encode(std::string("\0kijitora\0wrong", 15))).answer.substr(0, 9),
              "535 5.7.8");
    EXPECT_EQ(s.on_line("AUTH PLAIN " + base64_encode(std::string("\0kijitora\0nyaa", 14))).answer.substr(0, 9),
              "235 2.7.0");
    EXPECT_EQ(s.auth_user(), "kijitora");
    s.on_line("MAIL FROM:<a@example.jp>");
    EXPECT_EQ(code_of(s.on_line("RCPT TO:<b@example.jp>")), "250");
    EXPECT_EQ(s.envelope().auth_user, "kijitora");
}

TEST(SmtpdSession, AuthLoginAndItsRefusals) {
    Session plain_text(settings(), policy());
    plain_text.on_line("EHLO client.example.net");
    EXPECT_EQ(plain_text.on_line("AUTH LOGIN").answer.substr(0, 10), "538 5.7.11");  // TLS first
    auto st = settings();
    st.tls_active = true;
    Session s(st, policy());
    s.on_line("EHLO client.example.net");
    EXPECT_EQ(s.on_line("AUTH CRAM-MD5").answer.substr(0, 3), "504");
    EXPECT_EQ(s.on_line("AUTH LOGIN").answer, "334 VXNlcm5hbWU6\r\n");
    EXPECT_EQ(s.on_line(base64_encode("kijitora")).answer, "334 UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(code_of(s.on_line(base64_encode("nyaa"))), "235");
    EXPECT_EQ(s.on_line("AUTH LOGIN").answer.substr(0, 3), "503");  // once
    Session aborted(st, policy());
    aborted.on_line("EHLO client.example.net");
    aborted.on_line("AUTH PLAIN");
    EXPECT_EQ(aborted.on_line("*").answer.substr(0, 3), "501");
    EXPECT_EQ(code_of(aborted.on_line("NOOP")), "250");  // back to commands
}

TEST(SmtpdSession, SubmissionModeNeedsAuthBeforeMail) {
    auto st = settings();
    st.submission = true;
    Session s(st, policy());
    s.on_line("EHLO client.example.net");
    EXPECT_EQ(s.on_line("MAIL FROM:<a@example.jp>").answer, "530 5.7.0 Authentication required\r\n");
}

TEST(SmtpdSession, StarttlsForgetsEverything) {
    Session s(settings(), policy());
    s.on_line("EHLO client.example.net");
    auto tls = s.on_line("STARTTLS");
    EXPECT_EQ(tls.answer, "220 2.0.0 Ready to start TLS\r\n");
    EXPECT_EQ(tls.next, Session::Next::start_tls);
    s.on_tls_started();
    EXPECT_TRUE(s.tls_active());
    EXPECT_EQ(s.on_line("MAIL FROM:<a@example.jp>").answer.substr(0, 3), "503");  // EHLO again first
    auto ehlo = s.on_line("EHLO client.example.net");
    EXPECT_EQ(ehlo.answer.find("STARTTLS"), std::string::npos);
    EXPECT_NE(ehlo.answer.find("AUTH PLAIN LOGIN"), std::string::npos);
    EXPECT_EQ(s.on_line("STARTTLS").answer.substr(0, 3), "554");
}

TEST(SmtpdSession, SmugglingTooLargeAndLoopsAreRefusedWhole) {
    Session s(settings(), policy());
    s.on_line("EHLO client.example.net");
    auto transaction = [&](std::string_view content) {
        s.on_line("MAIL FROM:<a@example.jp>");
        s.on_line("RCPT TO:<b@example.jp>");
        s.on_line("DATA");
        return s.on_data(read_data(content));
    };
    EXPECT_EQ(transaction("a\n.\nMAIL FROM:<x@example.jp>\r\n.\r\n").answer.substr(0, 9), "554 5.6.0");
    EXPECT_EQ(transaction(std::string(1200, 'x') + "\r\n.\r\n").answer.substr(0, 9), "552 5.3.4");
    std::string hops;
    for (int i = 0; i < 51; ++i) hops += "Received: from a by b\r\n";
    auto st = settings();
    st.max_message_size = 0;
    Session big(st, policy());
    big.on_line("EHLO client.example.net");
    big.on_line("MAIL FROM:<a@example.jp>");
    big.on_line("RCPT TO:<b@example.jp>");
    big.on_line("DATA");
    EXPECT_EQ(big.on_data(read_data(hops + "\r\nbody\r\n.\r\n")).answer.substr(0, 9), "554 5.4.6");
    EXPECT_EQ(s.on_line("DATA").answer.substr(0, 3), "503");  // each refusal ended its transaction
}

TEST(SmtpdSession, BdatChunks) {
    Session s(settings(), policy());
    s.on_line("EHLO client.example.net");
    auto orphan = s.on_line("BDAT 5 LAST");
    EXPECT_EQ(orphan.next, Session::Next::chunk);  // refused, but its octets are read
    EXPECT_EQ(s.on_chunk("abcde").answer.substr(0, 3), "503");
    s.on_line("MAIL FROM:<a@example.jp>");
    s.on_line("RCPT TO:<b@example.jp>");
    EXPECT_EQ(s.on_line("BDAT 6").next, Session::Next::chunk);
    EXPECT_EQ(s.chunk_size(), 6u);
    EXPECT_EQ(code_of(s.on_chunk("a: b\r\n")), "250");
    EXPECT_EQ(s.on_line("DATA").answer.substr(0, 3), "503");
    s.on_line("BDAT 6 LAST");
    EXPECT_EQ(s.on_chunk("\r\nx\r\n\r").next, Session::Next::command);  // ends in a bare CR: refused
    s.on_line("MAIL FROM:<a@example.jp>");
    s.on_line("RCPT TO:<b@example.jp>");
    s.on_line("BDAT 3 LAST");
    EXPECT_EQ(s.on_chunk("x\r\n").next, Session::Next::commit);
    EXPECT_EQ(s.message(), "x\r\n");
    EXPECT_EQ(s.on_line("BDAT nine").next, Session::Next::close);
}

TEST(SmtpdSession, ABackendRecipientWaitsForTheProbe) {
    SessionPolicy p = policy();
    p.rcpt_needs_probe = [](const std::string& rcpt) { return rcpt.ends_with("@backend.example"); };
    Session s(settings(), p);
    s.on_line("EHLO client.example.net");
    s.on_line("MAIL FROM:<a@example.jp>");
    EXPECT_EQ(code_of(s.on_line("RCPT TO:<b@example.jp>")), "250");  // no probe for other domains
    auto asked = s.on_line("RCPT TO:<ghost@backend.example>");
    EXPECT_EQ(asked.next, Session::Next::probe);
    EXPECT_EQ(asked.answer, "");
    EXPECT_EQ(s.probed_rcpt(), "ghost@backend.example");
    EXPECT_EQ(s.on_probed(Refusal{550, "5.1.1", "Recipient address rejected: User unknown"}).answer,
              "550 5.1.1 Recipient address rejected: User unknown\r\n");
    EXPECT_EQ(s.envelope().rcpts.size(), 1u);
    EXPECT_EQ(code_of(s.on_probed(std::nullopt)), "503");  // nothing is being asked now
    s.on_line("RCPT TO:<mike@backend.example>");
    EXPECT_EQ(code_of(s.on_probed(std::nullopt)), "250");
    ASSERT_EQ(s.envelope().rcpts.size(), 2u);
    EXPECT_EQ(s.envelope().rcpts[1].address, "mike@backend.example");
}
