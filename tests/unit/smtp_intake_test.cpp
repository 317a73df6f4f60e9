// The smtp: section, and what an SMTP-taken message looks like in the queue.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/smtp_settings.hpp"
#include "config/yaml_file.hpp"
#include "smtpd/new_message.hpp"
#include "test_support.hpp"

using namespace haineko;
using namespace haineko::test;

namespace {

Options root_with(const TempDir& dir, const std::string& conf) {
    dir.write("etc/haineko.cf", "smtpd:\n  hostname: mx.example.jp\n" + conf);
    Options o;
    o.root = dir.path();
    return o;
}

std::string error_of(const Options& o) {
    try {
        load_config(o);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

smtpd::Envelope envelope(std::vector<std::string> rcpts) {
    smtpd::Envelope e;
    e.mail.address = "sender@example.org";
    for (auto& r : rcpts) e.rcpts.push_back(smtpd::RcptTo{r, std::nullopt, std::nullopt});
    return e;
}

}  // namespace

TEST(SmtpSettings, ListenAddresses) {
    EXPECT_EQ(split_listen_address("127.0.0.1:2525"), std::make_pair(std::string("127.0.0.1"), (unsigned short)2525));
    EXPECT_EQ(split_listen_address("[::1]:587"), std::make_pair(std::string("::1"), (unsigned short)587));
    EXPECT_EQ(split_listen_address("0.0.0.0:0")->second, 0);
    for (const char* bad : {"", "localhost", "127.0.0.1:", ":25", "::1:25", "[::1]25", "[127.0.0.1]:25",
                            "127.0.0.1:65536", "127.0.0.1:2x", "[::1]:"})
        EXPECT_FALSE(split_listen_address(bad)) << bad;
}

TEST(SmtpSettings, ReadsTheSection) {
    TempDir dir;
    dir.write("etc/tls/cert.pem", "x");
    dir.write("etc/tls/key.pem", "x");
    Options o = root_with(dir,
                          "smtp:\n  listen:\n    - address: '127.0.0.1:2525'\n    - address: '[::1]:587'\n"
                          "      mode: submission\n      tls: starttls\n  tls_cert: etc/tls/cert.pem\n"
                          "  tls_key: etc/tls/key.pem\n  command_timeout: 30\n  max_rcpts_per_transaction: 5\n"
                          "  auth_requires_tls: 0\n");
    o.smtp_listen = {"127.0.0.1:2600", "127.0.0.1:2525"};
    auto c = load_config(o);
    ASSERT_EQ(c->smtp.listen.size(), 3u);  // --smtp 127.0.0.1:2525 is already there
    EXPECT_FALSE(c->smtp.listen[0].submission);
    EXPECT_EQ(c->smtp.listen[0].tls, SmtpListener::Tls::none);
    EXPECT_TRUE(c->smtp.listen[1].submission);
    EXPECT_EQ(c->smtp.listen[1].host, "::1");
    EXPECT_EQ(c->smtp.listen[1].tls, SmtpListener::Tls::starttls);
    EXPECT_EQ(c->smtp.listen[2].origin, "--smtp");
    EXPECT_EQ(c->smtp.tls_cert, dir.path() + "/etc/tls/cert.pem");
    EXPECT_EQ(c->smtp.command_timeout, 30);
    EXPECT_EQ(c->smtp.data_timeout, 600);
    EXPECT_EQ(c->smtp.max_rcpts_per_transaction, 5);
    EXPECT_FALSE(c->smtp.auth_requires_tls);
}

TEST(SmtpSettings, RefusesWhatCannotWork) {
    TempDir dir;
    EXPECT_NE(error_of(root_with(dir, "smtp:\n  listen:\n    - address: 'localhost'\n")).find("host:port"),
              std::string::npos);
    EXPECT_NE(error_of(root_with(dir, "smtp:\n  listen:\n    - address: '127.0.0.1:25'\n      mode: open\n"))
                  .find("mode must be"),
              std::string::npos);
    EXPECT_NE(error_of(root_with(dir, "smtp:\n  listen:\n    - address: '127.0.0.1:25'\n      tls: starttls\n"))
                  .find("tls_cert"),
              std::string::npos);
    EXPECT_NE(error_of(root_with(dir, "smtp:\n  tls_cert: /nonexistent/cert.pem\n  tls_key: /nonexistent/k\n"))
                  .find("cannot be read"),
              std::string::npos);
    EXPECT_NE(error_of(root_with(dir, "smtp: [1]\n")).find("smtp must be a mapping"), std::string::npos);
    Options o = root_with(dir, "");
    o.smtp_listen = {"nonsense"};
    EXPECT_NE(error_of(o).find("--smtp"), std::string::npos);
}

TEST(SmtpSettings, ReadsThePasswordFileForAuthWithoutBasicAuth) {
    TempDir dir;
    dir.write("etc/password", "tabby: '{SSHA}x'\n");
    Options o = root_with(dir, "");
    EXPECT_TRUE(load_config(o)->passwords.empty());  // no SMTP listener: not read
    o.smtp_listen = {"127.0.0.1:2525"};
    auto c = load_config(o);
    EXPECT_EQ(c->passwords.count("tabby"), 1u);
    EXPECT_FALSE(c->basic_auth);
}

TEST(SmtpMessage, ReceivedRecordsTheHop) {
    Config c;
    c.smtpd.hostname = "mx.example.jp";
    SmtpArrival a{"QID", "192.0.2.1", "client.example.org", true, "", "", "", 1795000000000};
    std::string r = received_field(c, a, envelope({"a@example.jp"}));
    EXPECT_EQ(r.rfind("Received: from client.example.org ([192.0.2.1])\r\n\tby mx.example.jp (Haineko) with ESMTP id QID\r\n"
                      "\tfor <a@example.jp>; ", 0), 0u) << r;
    EXPECT_TRUE(r.ends_with("\r\n"));
    a.tls_version = "TLSv1.3";
    a.tls_cipher = "TLS_AES_256_GCM_SHA384 (256/256 bits)";
    a.auth_user = "tabby";
    a.client_address = "2001:db8::1";
    a.helo = "bad name\r\n(x)";
    r = received_field(c, a, envelope({"a@example.jp", "b@example.jp"}));
    EXPECT_NE(r.find("from bad?name???x? ([IPv6:2001:db8::1])"), std::string::npos) << r;
    EXPECT_NE(r.find("(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"), std::string::npos);
    EXPECT_NE(r.find("with ESMTPSA id QID;"), std::string::npos) << r;  // no "for" with two recipients
    EXPECT_EQ(r.find("tabby"), std::string::npos);
    c.smtp.received_auth_user = true;
    EXPECT_NE(received_field(c, a, envelope({"a@example.jp"})).find("(Authenticated sender: tabby)"), std::string::npos);
    a.esmtp = false;
    EXPECT_NE(received_field(c, a, envelope({"a@example.jp"})).find("with SMTP id"), std::string::npos);
}

TEST(SmtpMessage, AddsMessageIdAndDateOnlyWhenMissing) {
    Config c;
    c.smtpd.hostname = "mx.example.jp";
    SmtpArrival a{"QID", "192.0.2.1", "client.example.org", true, "", "", "", 1795000000000};
    auto n = smtp_new_message(c, a, envelope({"a@example.jp", "a@example.jp", "b@example.jp"}),
                              "From: Neko <neko@example.org>\r\nSubject: hi\r\n\r\nbody\r\n");
    EXPECT_EQ(n.rcpts, (std::vector<std::string>{"a@example.jp", "b@example.jp"}));
    EXPECT_EQ(n.routes.size(), 2u);
    EXPECT_EQ(n.from, "neko@example.org");
    EXPECT_EQ(n.subject, "hi");
    EXPECT_EQ(n.mail, "sender@example.org");
    EXPECT_TRUE(n.message_id.starts_with("<QID.")) << n.message_id;
    const auto blank = n.body.find("\r\n\r\n");
    const std::string head = n.body.substr(0, blank + 2);
    EXPECT_TRUE(head.starts_with("Received: from client.example.org"));
    EXPECT_NE(head.find("Subject: hi\r\nMessage-Id: " + n.message_id + "\r\nDate: "), std::string::npos) << head;
    EXPECT_EQ(n.body.substr(blank), "\r\n\r\nbody\r\n");

    n = smtp_new_message(c, a, envelope({"a@example.jp"}),
                         "Message-Id: <own@example.org>\r\nDate: Mon, 23 Nov 2026 00:00:00 +0000\r\n\r\nx\r\n");
    EXPECT_EQ(n.message_id, "<own@example.org>");
    EXPECT_EQ(n.body.find("Message-Id:"), n.body.rfind("Message-Id:"));
    EXPECT_EQ(n.body.find("Date:"), n.body.rfind("Date:"));

    // No header/body separator, and no line end at all: the added fields still stand alone.
    n = smtp_new_message(c, a, envelope({"a@example.jp"}), "Subject: only");
    EXPECT_NE(n.body.find("Subject: only\r\nMessage-Id: <QID."), std::string::npos) << n.body;
}

TEST(MilterSettings, Sockets) {
    auto m = parse_milter_socket("inet:8891@127.0.0.1");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->host, "127.0.0.1");
    EXPECT_EQ(m->port, 8891);
    m = parse_milter_socket("inet:localhost:11332");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->host, "localhost");
    EXPECT_EQ(m->port, 11332);
    m = parse_milter_socket("inet6:8891@[::1]");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->host, "::1");
    m = parse_milter_socket("unix:/run/opendkim/opendkim.sock");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->path, "/run/opendkim/opendkim.sock");
    EXPECT_TRUE(parse_milter_socket("local:/tmp/x.sock"));
    for (const char* bad : {"", "8891", "inet:", "inet:8891", "inet:0@127.0.0.1", "inet:99999@127.0.0.1",
                            "inet:x@127.0.0.1", "inet:8891@", "unix:relative.sock", "tcp:8891@127.0.0.1"})
        EXPECT_FALSE(parse_milter_socket(bad)) << bad;
}

TEST(MilterSettings, ReadsTheList) {
    TempDir dir;
    auto c = load_config(root_with(dir, "milters:\n  - socket: 'inet:8891@127.0.0.1'\n  - socket: 'unix:/tmp/m.sock'\n"
                                        "    timeout: 3\n    on_error: accept\n"));
    ASSERT_EQ(c->milters.size(), 2u);
    EXPECT_EQ(c->milters[0].timeout, 10);
    EXPECT_EQ(c->milters[0].on_error, MilterSettings::OnError::tempfail);
    EXPECT_EQ(c->milters[1].timeout, 3);
    EXPECT_EQ(c->milters[1].on_error, MilterSettings::OnError::accept);
    EXPECT_NE(error_of(root_with(dir, "milters:\n  - socket: 'nonsense'\n")).find("milter socket"), std::string::npos);
    EXPECT_NE(error_of(root_with(dir, "milters:\n  - socket: 'inet:1@h'\n    on_error: maybe\n")).find("on_error"),
              std::string::npos);
    EXPECT_NE(error_of(root_with(dir, "milters: {socket: 'inet:1@h'}\n")).find("must be a list"), std::string::npos);
    EXPECT_NE(error_of(root_with(dir, "milters:\n  - socket: 'inet:1@h'\n    timeout: 0\n")).find("timeout"),
              std::string::npos);
}
