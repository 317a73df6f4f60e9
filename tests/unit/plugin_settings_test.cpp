// etc/plugins, etc/plugins.d/NAME.yaml and plugins: {memory_mb} (config/plugin_settings),
// and etc/inbound (config/inbound_table): what is read, and the errors with file and line.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/yaml_file.hpp"
#include "policy/stages.hpp"
#include "relay/route_check.hpp"
#include "test_support.hpp"

using namespace haineko;
using namespace haineko::test;

namespace {

Options options_for(const TempDir& dir) {
    dir.write("etc/haineko.cf", "smtpd:\n  hostname: mx.example.jp\nplugins:\n  memory_mb: 32\n");
    Options o;
    o.root = dir.path();
    return o;
}

std::string config_error(const Options& o) {
    try {
        load_config(o);
    } catch (const ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "load_config did not throw";
    return {};
}

}  // namespace

TEST(PluginSettings, ListCommentsFilesAndSettings) {
    TempDir dir;
    dir.write("etc/plugins", "# first the local one\n\nmine  # trailing comment\nrcpt_to.extension\n");
    dir.write("plugins/mine.lua", "return {}\n");
    dir.write("etc/plugins.d/mine.yaml", "on_error: cont\ntimeout: 2.5\nmax_instructions: 5000\nown: [1, 2]\n");
    auto c = load_config(options_for(dir));
    ASSERT_EQ(c->plugins.list.size(), 2u);
    const PluginFile& mine = c->plugins.list[0];
    EXPECT_EQ(mine.name, "mine");
    EXPECT_EQ(mine.path, dir.path() + "/plugins/mine.lua");
    EXPECT_EQ(mine.code, "return {}\n");
    EXPECT_TRUE(mine.on_error_cont);
    EXPECT_DOUBLE_EQ(mine.timeout, 2.5);
    EXPECT_EQ(mine.max_instructions, 5000);
    EXPECT_EQ(mine.config.at("own").as_array().size(), 2u);
    EXPECT_EQ(mine.origin, dir.path() + "/etc/plugins:3");
    const PluginFile& bundled = c->plugins.list[1];
    EXPECT_TRUE(bundled.path.empty());  // the bundled one: the host has its text
    EXPECT_FALSE(bundled.on_error_cont);
    EXPECT_DOUBLE_EQ(bundled.timeout, 30);
    EXPECT_EQ(bundled.max_instructions, 10'000'000);
    EXPECT_EQ(c->plugins.memory_mb, 32);
}

TEST(PluginSettings, NoFileMeansNoPlugins) {
    TempDir dir;
    EXPECT_TRUE(load_config(options_for(dir))->plugins.list.empty());
}

TEST(PluginSettings, ErrorsNameTheFileAndLine) {
    TempDir dir;
    const std::string list = dir.write("etc/plugins", "good\n../escape\n");
    EXPECT_EQ(config_error(options_for(dir)).rfind(list + ":2:", 0), 0u);
    dir.write("etc/plugins", "twice\ntwice\n");
    EXPECT_NE(config_error(options_for(dir)).find("listed twice"), std::string::npos);
    dir.write("etc/plugins", "p\n");
    const std::string yaml = dir.write("etc/plugins.d/p.yaml", "timeout: 0\n");
    EXPECT_EQ(config_error(options_for(dir)).rfind(yaml + ":1:", 0), 0u);
    dir.write("etc/plugins.d/p.yaml", "on_error: maybe\n");
    EXPECT_NE(config_error(options_for(dir)).find("on_error"), std::string::npos);
    dir.write("etc/plugins.d/p.yaml", "- a list\n");
    EXPECT_NE(config_error(options_for(dir)).find("mapping"), std::string::npos);
}

TEST(InboundTable, DomainsRoutesAndRecipients) {
    TempDir dir;
    dir.write("etc/inbound",
              "Example.JP:\n  mailer: 'ESMTP'\n  host: '127.0.0.1'\n  port: 2525\n  recipients: ['Neko', 'tama@example.jp']\n"
              "example.net:\n  mailer: 'ESMTP'\n  recipients: 'backend'\n"
              "example.org:\n  mailer: 'File'\n  path: 'mail'\n");
    auto c = load_config(options_for(dir));
    ASSERT_EQ(c->inbound.size(), 3u);
    EXPECT_EQ(c->inbound.at("example.jp").route.port, 2525);
    EXPECT_EQ(inbound_rcpt(*c, "neko@example.jp"), InboundRcpt::taken);
    EXPECT_EQ(inbound_rcpt(*c, "TAMA@EXAMPLE.JP"), InboundRcpt::taken);
    EXPECT_EQ(inbound_rcpt(*c, "mike@example.jp"), InboundRcpt::unknown_user);
    EXPECT_EQ(inbound_rcpt(*c, "postmaster@example.jp"), InboundRcpt::taken);
    EXPECT_EQ(inbound_rcpt(*c, "Postmaster"), InboundRcpt::taken);
    EXPECT_EQ(inbound_rcpt(*c, "anyone@example.net"), InboundRcpt::ask_backend);
    EXPECT_EQ(inbound_rcpt(*c, "anyone@example.org"), InboundRcpt::taken);
    EXPECT_EQ(inbound_rcpt(*c, "anyone@elsewhere.example"), InboundRcpt::not_ours);
    EXPECT_EQ(inbound_rcpt(*c, "no-domain"), InboundRcpt::not_ours);
}

TEST(InboundTable, ErrorsNameTheFileAndLine) {
    TempDir dir;
    const std::string path = dir.write("etc/inbound", "example.jp:\n  recipients: 'everyone'\n");
    EXPECT_EQ(config_error(options_for(dir)).rfind(path + ":2:", 0), 0u);
    dir.write("etc/inbound", "example.jp:\n  port: 'x'\n");
    EXPECT_NE(config_error(options_for(dir)).find("port"), std::string::npos);
}

TEST(InboundTable, LmtpRoutesAndTheirChecks) {
    TempDir dir;
    dir.write("etc/inbound",
              "example.jp:\n  mailer: 'LMTP'\n  recipients: 'backend'\n"
              "example.net:\n  mailer: 'LMTP'\n  socket: 'run/lmtp'\n"
              "example.org:\n  mailer: 'File'\n  recipients: 'backend'\n");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->inbound.at("example.jp").route.port, 24);  // LMTP's own port (RFC 2033 gives none; 24 is usual)
    EXPECT_EQ(c->inbound.at("example.net").route.socket, dir.path() + "/run/lmtp");
    EXPECT_EQ(inbound_domain(*c, "Neko@Example.NET"), &c->inbound.at("example.net"));
    EXPECT_EQ(inbound_domain(*c, "neko@elsewhere.example"), nullptr);
    const auto problems = route_problems(*c);
    ASSERT_EQ(problems.size(), 1u);  // only the File route cannot be asked about its recipients
    EXPECT_NE(problems[0].find("inbound route 'example.org'"), std::string::npos) << problems[0];
    EXPECT_NE(problems[0].find("ESMTP or LMTP"), std::string::npos) << problems[0];
}
