#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "config/config.hpp"
#include "config/yaml_file.hpp"
#include "core/address.hpp"
#include "test_support.hpp"

using namespace haineko;
using namespace haineko::test;

namespace {

// A root whose etc/ holds tables but no haineko.cf gets a small one: since a root with
// etc/ must have one, and a dotted host name keeps warnings about it out of the tests.
Options options_for(const TempDir& dir, bool devel = false) {
    std::error_code ec;
    if (std::filesystem::exists(dir.path() + "/etc", ec) && !std::filesystem::exists(dir.path() + "/etc/haineko.cf", ec))
        dir.write("etc/haineko.cf", "smtpd:\n  hostname: mx.example.jp\n");
    Options o;
    o.root = dir.path();
    o.devel = devel;
    return o;
}

const TableFile* table(const Config& c, const std::string& name) {
    for (const auto& t : c.tables)
        if (t.name == name) return &t;
    return nullptr;
}

boost::asio::ip::address ip(const char* text) { return *parse_ip(text); }

// Runs load_config expecting a ConfigError and returns its message.
std::string config_error(const Options& o) {
    try {
        load_config(o);
    } catch (const ConfigError& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a ConfigError: " << e.what();
        return {};
    }
    ADD_FAILURE() << "load_config did not throw";
    return {};
}

bool any_warning_mentions(const Config& c, const std::string& text) {
    return std::any_of(c.warnings.begin(), c.warnings.end(),
                       [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

}  // namespace

TEST(Config, DefaultsWithNoFiles) {
    TempDir dir;
    auto c = load_config(options_for(dir));
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->conf_path.empty());
    EXPECT_EQ(c->smtpd.hostname, system_hostname());
    EXPECT_FALSE(c->smtpd.hostname.empty());
    EXPECT_TRUE(c->smtpd.max_message_size.valid);
    EXPECT_EQ(c->smtpd.max_message_size.value, 4194304);
    EXPECT_EQ(c->smtpd.max_rcpts_per_message.value, 4);
    EXPECT_EQ(c->smtpd.max_workers.value, 4);
    EXPECT_FALSE(c->smtpd.syslog_enabled);
    EXPECT_EQ(c->smtpd.syslog_facility, "local2");
    EXPECT_TRUE(c->mailertable.empty());
    EXPECT_TRUE(c->sendermt.empty());
    EXPECT_TRUE(c->authinfo.empty());
    EXPECT_FALSE(c->basic_auth);
    EXPECT_FALSE(c->relayhosts.open_relay);
    EXPECT_FALSE(c->recipients.open_relay);
    ASSERT_EQ(c->tables.size(), 5u);
    const char* names[] = {"mailertable", "sendermt", "authinfo", "relayhosts", "recipients"};
    for (size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(c->tables[i].name, names[i]);
        EXPECT_FALSE(c->tables[i].path.has_value());
        EXPECT_TRUE(c->tables[i].data.is_null());
    }
    // /conf view of the defaults names the table files under ROOT/etc
    const auto& smtpd = c->conf_data.as_object().at("smtpd").as_object();
    EXPECT_EQ(smtpd.at("max_message_size").as_int64(), 4194304);
    EXPECT_EQ(smtpd.at("mailer").as_object().at("rcpt").as_string(), dir.path() + "/etc/mailertable");
    EXPECT_EQ(smtpd.at("access").as_object().at("conn").as_string(), dir.path() + "/etc/relayhosts");
}

TEST(Config, EmptyFileMeansDefaults) {
    TempDir dir;
    dir.write("etc/haineko.cf", "");
    dir.write("etc/relayhosts", "");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->conf_path, dir.path() + "/etc/haineko.cf");  // read, and empty
    EXPECT_EQ(c->smtpd.max_rcpts_per_message.value, 4);
    EXPECT_TRUE(any_contains(c->relayhosts.networks, ip("127.0.0.1")));
}

TEST(Config, ReadsSmtpdSettings) {
    TempDir dir;
    std::string cf = dir.write("etc/haineko.cf",
                               "smtpd:\n"
                               "  hostname: mx.example.jp\n"
                               "  max_message_size: 1024\n"
                               "  max_rcpts_per_message: 0\n"
                               "  max_workers: 2\n"
                               "  syslog:\n"
                               "    disabled: 0\n"
                               "    facility: local5\n"
                               "  trusted_proxies: [10.0.0.0/8, '::1']\n");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->conf_path, cf);
    EXPECT_EQ(c->smtpd.hostname, "mx.example.jp");
    EXPECT_EQ(c->smtpd.max_message_size.value, 1024);
    EXPECT_TRUE(c->smtpd.max_message_size.valid);
    EXPECT_EQ(c->smtpd.max_rcpts_per_message.value, 0);
    EXPECT_EQ(c->smtpd.max_workers.value, 2);
    EXPECT_TRUE(c->smtpd.syslog_enabled);
    EXPECT_EQ(c->smtpd.syslog_facility, "local5");
    EXPECT_TRUE(any_contains(c->smtpd.trusted_proxies, ip("10.9.9.9")));
    EXPECT_TRUE(any_contains(c->smtpd.trusted_proxies, ip("::1")));
    EXPECT_FALSE(any_contains(c->smtpd.trusted_proxies, ip("192.0.2.1")));
    EXPECT_TRUE(c->warnings.empty());
}

TEST(Config, ConfFromOptionsInsteadOfRootEtc) {
    TempDir dir;
    dir.write("etc/haineko.cf", "smtpd:\n  hostname: from-root.example.jp\n");
    std::string other = dir.write("elsewhere/my.cf", "smtpd:\n  hostname: from-option.example.jp\n");
    Options o = options_for(dir);
    o.conf = other;
    auto c = load_config(o);
    EXPECT_EQ(c->conf_path, other);
    EXPECT_EQ(c->smtpd.hostname, "from-option.example.jp");
}

TEST(Config, JsonIsYamlToo) {
    TempDir dir;
    dir.write("etc/haineko.cf", R"({"smtpd": {"hostname": "json.example.jp", "max_workers": 3}})");
    dir.write("etc/recipients", R"({"open-relay": 0, "domainpart": ["Example.JP"]})");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->smtpd.hostname, "json.example.jp");
    EXPECT_EQ(c->smtpd.max_workers.value, 3);
    EXPECT_EQ(c->recipients.domains.count("example.jp"), 1u);
}

TEST(Config, RelativeTableNamesResolveUnderRootEtc) {
    TempDir dir;
    dir.write("etc/haineko.cf",
              "smtpd:\n"
              "  hostname: mx.example.jp\n"
              "  access:\n"
              "    conn: my-relayhosts\n"
              "    rcpt: my-recipients\n"
              "  mailer:\n"
              "    rcpt: my-mailertable\n");
    std::string rh = dir.write("etc/my-relayhosts", "relayhosts: [192.0.2.0/24]\n");
    std::string rc = dir.write("etc/my-recipients", "domainpart: [example.org]\n");
    std::string mt = dir.write("etc/my-mailertable", "example.org:\n  host: mx.example.org\n");
    // the default names must not be read when others are configured
    dir.write("etc/relayhosts", "open-relay: 1\n");
    auto c = load_config(options_for(dir));
    EXPECT_FALSE(c->relayhosts.open_relay);
    EXPECT_TRUE(any_contains(c->relayhosts.networks, ip("192.0.2.5")));
    EXPECT_EQ(table(*c, "relayhosts")->path.value_or(""), rh);
    EXPECT_EQ(table(*c, "recipients")->path.value_or(""), rc);
    EXPECT_EQ(table(*c, "mailertable")->path.value_or(""), mt);
    EXPECT_EQ(c->recipients.domains.count("example.org"), 1u);
    ASSERT_EQ(c->mailertable.count("example.org"), 1u);
    EXPECT_EQ(c->mailertable.at("example.org").host, "mx.example.org");
}

TEST(Config, RelativeTableNameWithDotsIsStillUnderRootEtc) {
    // "Table names without a leading / are looked up in $HAINEKO_ROOT/etc/", whatever the
    // working directory is.
    TempDir dir;
    dir.write("etc/haineko.cf", "smtpd:\n  hostname: mx.example.jp\n  access:\n    conn: ../shared/relayhosts\n");
    std::string rh = dir.write("shared/relayhosts", "relayhosts: [198.51.100.0/24]\n");
    auto c = load_config(options_for(dir));
    ASSERT_TRUE(table(*c, "relayhosts")->path.has_value());
    EXPECT_TRUE(std::filesystem::equivalent(*table(*c, "relayhosts")->path, rh));
    EXPECT_TRUE(any_contains(c->relayhosts.networks, ip("198.51.100.1")));
}

TEST(Config, AbsoluteTableNames) {
    TempDir dir;
    TempDir other;
    std::string rh = other.write("rh.yaml", "relayhosts: [203.0.113.0/24]\n");
    dir.write("etc/haineko.cf", "smtpd:\n  access:\n    conn: " + rh + "\n");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(table(*c, "relayhosts")->path.value_or(""), rh);
    EXPECT_TRUE(any_contains(c->relayhosts.networks, ip("203.0.113.1")));
}

TEST(Config, DevelModeUsesDebugTables) {
    TempDir dir;
    dir.write("etc/relayhosts", "relayhosts: [192.0.2.0/24]\n");
    std::string debug = dir.write("etc/relayhosts-debug", "relayhosts: [198.51.100.0/24]\n");
    dir.write("etc/recipients", "domainpart: [example.jp]\n");  // no -debug file: the plain one
    auto devel = load_config(options_for(dir, true));
    EXPECT_EQ(table(*devel, "relayhosts")->path.value_or(""), debug);
    EXPECT_TRUE(any_contains(devel->relayhosts.networks, ip("198.51.100.1")));
    EXPECT_FALSE(any_contains(devel->relayhosts.networks, ip("192.0.2.1")));
    EXPECT_EQ(devel->recipients.domains.count("example.jp"), 1u);

    auto production = load_config(options_for(dir, false));
    EXPECT_EQ(table(*production, "relayhosts")->path.value_or(""), dir.path() + "/etc/relayhosts");
    EXPECT_TRUE(any_contains(production->relayhosts.networks, ip("192.0.2.1")));
    EXPECT_FALSE(any_contains(production->relayhosts.networks, ip("198.51.100.1")));
}

TEST(Config, BrokenYamlNamesFileAndLine) {
    TempDir dir;
    std::string cf = dir.write("etc/haineko.cf",
                               "smtpd:\n"
                               "  hostname: mx.example.jp\n"
                               "  max_workers: [1, 2\n"
                               "  max_rcpts_per_message: 4\n");
    std::string what = config_error(options_for(dir));
    EXPECT_EQ(what.rfind(cf + ":", 0), 0u) << what;
    // "path:LINE: problem"
    std::string rest = what.substr(std::min(what.size(), cf.size() + 1));
    size_t colon = rest.find(':');
    ASSERT_NE(colon, std::string::npos) << what;
    int line = std::atoi(rest.substr(0, colon).c_str());
    EXPECT_GE(line, 3) << what;
    EXPECT_LE(line, 5) << what;
    EXPECT_EQ(rest.substr(0, colon).find_first_not_of("0123456789"), std::string::npos) << what;
}

TEST(Config, BrokenTableNamesItsFile) {
    TempDir dir;
    std::string mt = dir.write("etc/mailertable", "example.jp:\n  host: [a, b\nexample.org:\n  host: c\n");
    std::string what = config_error(options_for(dir));
    EXPECT_EQ(what.rfind(mt + ":", 0), 0u) << what;
}

TEST(Config, TopLevelMustBeAMapping) {
    TempDir dir;
    std::string rh = dir.write("etc/relayhosts", "- 127.0.0.1\n- 192.0.2.1\n");
    std::string what = config_error(options_for(dir));
    EXPECT_EQ(what.rfind(rh + ":", 0), 0u) << what;
}

TEST(Config, RoutePortNotANumberNamesTheLine) {
    TempDir dir;
    std::string mt = dir.write("etc/mailertable",
                               "default:\n"
                               "  mailer: ESMTP\n"
                               "  host: 127.0.0.1\n"
                               "example.jp:\n"
                               "  host: mx.example.jp\n"
                               "  port: abc\n");
    std::string what = config_error(options_for(dir));
    EXPECT_EQ(what.rfind(mt + ":6: ", 0), 0u) << what;
    EXPECT_NE(what.find("port"), std::string::npos) << what;
}

TEST(Config, RoutePortOutOfRange) {
    TempDir dir;
    std::string mt = dir.write("etc/mailertable", "example.jp:\n  port: 70000\n");
    std::string what = config_error(options_for(dir));
    EXPECT_EQ(what.rfind(mt + ":2: ", 0), 0u) << what;
}

// The defaults a route falls back to (asserted, never listened on).
constexpr int kSmtpDefault = 25;
constexpr int kHainekoDefault = 2794;

TEST(Config, Routes) {
    TempDir dir;
    dir.write("etc/mailertable",
              "default:\n"
              "  mailer: ESMTP\n"
              "  host: relay.example.net\n"
              "  port: 10587\n"
              "  auth: relay\n"
              "Example.JP:\n"
              "  mailer: Haineko\n"
              "  host: haineko.example.jp\n"
              "example.org:\n"
              "  mailer: /var/spool/haineko\n"
              "  disabled: 1\n"
              "example.net:\n"
              "  mailer: Discard\n");
    dir.write("etc/sendermt", "example.com:\n  host: out.example.com\n  starttls: 1\n  retry: 2\n");
    auto c = load_config(options_for(dir));
    ASSERT_EQ(c->mailertable.size(), 4u);
    const Route& def = c->mailertable.at("default");
    EXPECT_EQ(def.host, "relay.example.net");
    EXPECT_EQ(def.port, 10587);
    EXPECT_EQ(def.auth, "relay");
    ASSERT_EQ(c->mailertable.count("example.jp"), 1u);  // keys are lower-cased
    const Route& hk = c->mailertable.at("example.jp");
    EXPECT_EQ(hk.mailer, "Haineko");
    EXPECT_EQ(hk.port, kHainekoDefault);
    const Route& file = c->mailertable.at("example.org");
    EXPECT_EQ(file.mailer, "File");
    EXPECT_EQ(file.path, "/var/spool/haineko");
    EXPECT_TRUE(file.disabled);
    const Route& discard = c->mailertable.at("example.net");
    EXPECT_EQ(discard.mailer, "Discard");
    EXPECT_EQ(discard.host, "127.0.0.1");
    EXPECT_EQ(discard.port, kSmtpDefault);
    EXPECT_EQ(discard.retry, 0);
    EXPECT_EQ(discard.sleep, 5);
    EXPECT_GE(discard.timeout, 30);
    EXPECT_LE(discard.timeout, 59);
    EXPECT_FALSE(discard.starttls);
    EXPECT_FALSE(discard.disabled);
    ASSERT_EQ(c->sendermt.count("example.com"), 1u);
    EXPECT_TRUE(c->sendermt.at("example.com").starttls);
    EXPECT_EQ(c->sendermt.at("example.com").retry, 2);
    EXPECT_EQ(c->sendermt.at("example.com").port, 25);
}

TEST(Config, NonNumericSizeLoadsAsInvalid) {
    TempDir dir;
    dir.write("etc/haineko.cf", "smtpd:\n  hostname: mx.example.jp\n  max_message_size: big\n");
    std::shared_ptr<const Config> c;
    ASSERT_NO_THROW(c = load_config(options_for(dir)));
    EXPECT_FALSE(c->smtpd.max_message_size.valid);
    EXPECT_TRUE(c->smtpd.max_rcpts_per_message.valid);
    ASSERT_EQ(c->problems.size(), 1u);
    EXPECT_NE(c->problems[0].find("haineko.cf:3: max_message_size"), std::string::npos) << c->problems[0];
    EXPECT_GT(c->request_body_limit(), 0u);
}

TEST(Config, NonNumericRcptsLoadsAsInvalid) {
    TempDir dir;
    dir.write("etc/haineko.cf", "smtpd:\n  max_rcpts_per_message: four\n");
    auto c = load_config(options_for(dir));
    EXPECT_FALSE(c->smtpd.max_rcpts_per_message.valid);
    EXPECT_TRUE(c->smtpd.max_message_size.valid);
}

TEST(Config, RelayhostsBadCidrThrowsWithLine) {
    TempDir dir;
    std::string rh = dir.write("etc/relayhosts",
                               "open-relay: 0\n"
                               "relayhosts:\n"
                               "  - 127.0.0.1\n"
                               "  - 192.0.2.0/33\n");
    std::string what = config_error(options_for(dir));
    EXPECT_EQ(what.rfind(rh + ":4: ", 0), 0u) << what;
    EXPECT_NE(what.find("192.0.2.0/33"), std::string::npos) << what;
}

TEST(Config, RelayhostsGarbageThrows) {
    TempDir dir;
    std::string rh = dir.write("etc/relayhosts", "relayhosts:\n  - not-an-address\n");
    std::string what = config_error(options_for(dir));
    EXPECT_EQ(what.rfind(rh + ":2: ", 0), 0u) << what;
}

TEST(Config, MissingRelayhostsMeansLoopbackOnly) {
    TempDir dir;
    auto c = load_config(options_for(dir));
    EXPECT_TRUE(any_contains(c->relayhosts.networks, ip("127.0.0.1")));
    EXPECT_TRUE(any_contains(c->relayhosts.networks, ip("::1")));
    EXPECT_FALSE(any_contains(c->relayhosts.networks, ip("127.0.0.2")));
    EXPECT_FALSE(any_contains(c->relayhosts.networks, ip("192.0.2.1")));
    EXPECT_FALSE(any_contains(c->relayhosts.networks, ip("10.0.0.1")));
    EXPECT_FALSE(c->relayhosts.open_relay);
}

TEST(Config, RelayhostsFile) {
    TempDir dir;
    dir.write("etc/relayhosts", "open-relay: 0\nrelayhosts:\n  - 192.0.2.0/24\n  - 2001:db8::/32\n");
    auto c = load_config(options_for(dir));
    EXPECT_TRUE(any_contains(c->relayhosts.networks, ip("192.0.2.77")));
    EXPECT_TRUE(any_contains(c->relayhosts.networks, ip("2001:db8::7")));
    // a list replaces the loopback default
    EXPECT_FALSE(any_contains(c->relayhosts.networks, ip("127.0.0.1")));
    dir.write("etc/relayhosts", "open-relay: 1\n");
    EXPECT_TRUE(load_config(options_for(dir))->relayhosts.open_relay);
}

TEST(Config, MissingRecipientsMeansOnlyTheHostname) {
    TempDir dir;
    dir.write("etc/haineko.cf", "smtpd:\n  hostname: MX.Example.JP\n");
    auto c = load_config(options_for(dir));
    EXPECT_FALSE(c->recipients.open_relay);
    EXPECT_EQ(c->recipients.domains, std::set<std::string>{"mx.example.jp"});
    EXPECT_TRUE(c->recipients.addresses.empty());
}

TEST(Config, RecipientsFile) {
    TempDir dir;
    dir.write("etc/recipients",
              "open-relay: 0\n"
              "domainpart:\n  - Example.JP\n  - example.org\n"
              "recipients:\n  - Kijitora@Example.NET\n");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->recipients.domains, (std::set<std::string>{"example.jp", "example.org"}));
    EXPECT_EQ(c->recipients.addresses, std::set<std::string>{"Kijitora@example.net"});
}

TEST(Config, AuthinfoIsMaskedInTables) {
    TempDir dir;
    dir.write("etc/authinfo",
              "sendgrid:\n  username: apikey\n  password: SG.very-secret\n"
              "relay:\n  username: kijitora@example.jp\n  password: nyaa\n",
              0600);
    auto c = load_config(options_for(dir));
    ASSERT_EQ(c->authinfo.size(), 2u);
    EXPECT_EQ(c->authinfo.at("sendgrid").username, "apikey");
    EXPECT_EQ(c->authinfo.at("sendgrid").password, "SG.very-secret");
    const TableFile* t = table(*c, "authinfo");
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->data.is_object());
    const auto& sg = t->data.as_object().at("sendgrid").as_object();
    EXPECT_EQ(sg.at("username").as_string(), "a*******");
    EXPECT_EQ(sg.at("password").as_string(), "********");
    EXPECT_EQ(t->data.as_object().at("relay").as_object().at("username").as_string(), "k*******");
    // nothing secret anywhere in what /conf shows
    std::string all;
    for (const auto& tf : c->tables) all += boost::json::serialize(tf.data);
    all += boost::json::serialize(c->conf_data);
    EXPECT_EQ(all.find("SG.very-secret"), std::string::npos);
    EXPECT_EQ(all.find("apikey"), std::string::npos);
    EXPECT_EQ(all.find("nyaa"), std::string::npos);
    EXPECT_EQ(all.find("kijitora@example.jp"), std::string::npos);
    EXPECT_TRUE(c->warnings.empty()) << c->warnings.front();
}

TEST(Config, WarnsAboutReadableAuthinfo) {
    TempDir dir;
    std::string path = dir.write("etc/authinfo", "relay:\n  username: u\n  password: p\n", 0644);
    auto c = load_config(options_for(dir));
    EXPECT_TRUE(any_warning_mentions(*c, path));
}

TEST(Config, PasswordFile) {
    TempDir dir;
    std::string pw = dir.write("etc/password", "haineko: '{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn'\n", 0600);
    Options o = options_for(dir);
    o.auth_file = pw;
    auto c = load_config(o);
    EXPECT_TRUE(c->basic_auth);
    ASSERT_EQ(c->passwords.count("haineko"), 1u);
    EXPECT_EQ(c->passwords.at("haineko"), "{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn");
    const TableFile* t = table(*c, "password");
    ASSERT_TRUE(t);
    EXPECT_EQ(boost::json::serialize(t->data).find("9p2euyte"), std::string::npos);
    EXPECT_TRUE(c->warnings.empty());

    ::chmod(pw.c_str(), 0644);
    EXPECT_TRUE(any_warning_mentions(*load_config(o), pw));
}

TEST(Config, MissingPasswordFileStillTurnsAuthOn) {
    TempDir dir;
    Options o = options_for(dir);
    o.auth_file = dir.path() + "/etc/no-such-password";
    auto c = load_config(o);
    EXPECT_TRUE(c->basic_auth);
    EXPECT_TRUE(c->passwords.empty());
    EXPECT_FALSE(c->warnings.empty());
}

TEST(Config, NoAuthFileMeansNoBasicAuth) {
    TempDir dir;
    dir.write("etc/password", "haineko: '{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn'\n", 0600);
    auto c = load_config(options_for(dir));
    EXPECT_FALSE(c->basic_auth);
    EXPECT_TRUE(c->passwords.empty());
}

TEST(YamlFile, MissingOrEmptyIsNullopt) {
    TempDir dir;
    EXPECT_FALSE(load_yaml_file(dir.path() + "/nothing"));
    EXPECT_FALSE(load_yaml_file(dir.write("empty", "")));
    EXPECT_FALSE(load_yaml_file(dir.path()));  // a directory
    EXPECT_TRUE(load_yaml_file(dir.write("one", "a: 1\n")));
}

TEST(YamlFile, ToJson) {
    YAML::Node n = YAML::Load("a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: text\ng: [x, 2]\n");
    auto v = yaml_to_json(n);
    const auto& o = v.as_object();
    EXPECT_EQ(o.at("a").as_int64(), 1);
    EXPECT_EQ(o.at("b").as_string(), "1");
    EXPECT_TRUE(o.at("c").as_bool());
    EXPECT_TRUE(o.at("d").is_null());
    EXPECT_DOUBLE_EQ(o.at("e").as_double(), 1.5);
    EXPECT_EQ(o.at("f").as_string(), "text");
    EXPECT_EQ(o.at("g").as_array().at(1).as_int64(), 2);
}

// A root or a config file that was named must be there; only a root without etc/ runs
// on built-in defaults.
TEST(Config, NamedButMissingIsAnError) {
    TempDir dir;
    Options o = options_for(dir);
    o.root = dir.path() + "/no-such-root";
    o.root_source = "HAINEKO_ROOT";
    EXPECT_EQ(config_error(o), "HAINEKO_ROOT=" + o.root + ": no such directory");
    o = options_for(dir);
    o.conf = dir.path() + "/missing.cf";
    o.conf_source = "-C";
    EXPECT_EQ(config_error(o), "-C " + o.conf + ": no such file");
    o.conf = dir.path();
    EXPECT_EQ(config_error(o), "-C " + dir.path() + ": is a directory, not a file");
    o.conf = dir.path() + "/missing.cf";
    o.conf_source = "HAINEKO_CONF";
    EXPECT_EQ(config_error(o), "HAINEKO_CONF=" + o.conf + ": no such file");
    // etc/ without haineko.cf
    dir.write("etc/mailertable", "default: {mailer: File}\n");
    Options plain;
    plain.root = dir.path();
    EXPECT_NE(config_error(plain).find(dir.path() + "/etc/haineko.cf: no such file"), std::string::npos);
}

TEST(Config, NodeIdAndHeloName) {
    TempDir dir;
    dir.write("etc/haineko.cf", "smtpd:\n  hostname: vm\n");
    Options o = options_for(dir);
    o.listen_port = 2795;
    auto c = load_config(o);
    EXPECT_EQ(c->node_id, "vm:2795");
    EXPECT_EQ(c->smtpd.helo_name, "vm.localdomain");
    EXPECT_TRUE(any_warning_mentions(*c, "not a full domain name"));
    dir.write("etc/haineko.cf", "node_id: 'node-a'\nsmtpd:\n  hostname: mx.example.jp\n");
    c = load_config(o);
    EXPECT_EQ(c->node_id, "node-a");
    EXPECT_EQ(c->smtpd.helo_name, "mx.example.jp");
    dir.write("etc/haineko.cf", "node_id: 'a, b'\n");
    EXPECT_NE(config_error(o).find("haineko.cf:1: node_id"), std::string::npos);
}

TEST(Config, DnsServersAreCheckedOneByOne) {
    TempDir dir;
    dir.write("etc/haineko.cf", "smtpd:\n  dns_servers:\n    - '127.0.0.1:5353'\n    - '[::1]:53'\n    - '::1'\n");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->smtpd.dns_servers.size(), 3u);
    for (const char* bad : {"localhost", "127.0.0.1:99999", "127.0.0.1:", "[::1", "[127.0.0.1]:53", "1.2.3"}) {
        SCOPED_TRACE(bad);
        dir.write("etc/haineko.cf", std::string("smtpd:\n  dns_servers:\n    - '127.0.0.1'\n    - '") + bad + "'\n");
        std::string what = config_error(options_for(dir));
        EXPECT_NE(what.find("haineko.cf:4: dns_servers"), std::string::npos) << what;
    }
}

TEST(YamlFile, UnclosedQuoteIsAnError) {
    TempDir dir;
    // yaml-cpp ends a quoted scalar at the end of the text without complaint.
    std::string path = dir.write("mailertable", "default:\n    mailer: 'File\n    path: outbox\n");
    try {
        load_yaml_file(path);
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), path + ":2: unclosed quote: the value starting with ' has no closing '");
    }
    EXPECT_THROW(load_yaml_file(dir.write("b", "a: \"x\n")), ConfigError);
    // closed quotes, escaped quotes and quotes spanning lines are fine
    EXPECT_TRUE(load_yaml_file(dir.write("c", "a: 'it''s'\nb: \"say \\\"hi\\\"\"\nc: 'one\n  two'\n")));
}

TEST(YamlFile, MustBeUtf8) {
    TempDir dir;
    std::string path = dir.write("m", "default:\n  mailer: Discard\n  host: \"\xff\"\n");
    try {
        load_yaml_file(path);
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), path + ":3: not UTF-8 text (byte 37)");
    }
    EXPECT_TRUE(load_yaml_file(dir.write("ok", "a: '\xE3\x81\xAD\xE3\x81\x93'\n")));
    // Found by fuzzing: an escape past U+10FFFF in a UTF-8 file makes a value that is not.
    EXPECT_THROW(load_yaml_file(dir.write("esc", "a: \"\\U0011FFFF\"\n")), ConfigError);
}

TEST(YamlFile, KeysMustBePlainValues) {
    TempDir dir;
    std::string path = dir.write("m", "default: {mailer: File}\n[a, b]: {mailer: File}\n");
    try {
        load_yaml_file(path);
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find(path + ":2: a key must be a plain value"), std::string::npos) << e.what();
    }
    EXPECT_THROW(load_yaml_file(dir.write("n", "{x: 1}: 2\n")), ConfigError);
}

TEST(YamlFile, AliasExpansionIsCapped) {
    TempDir dir;
    // Nine levels of ten aliases each describe 10^9 values in a few hundred bytes.
    std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 9; ++i) {
        text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
        text += "]\n";
    }
    std::string path = dir.write("bomb", text);
    auto started = std::chrono::steady_clock::now();
    try {
        load_yaml_file(path);
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("expands to more than"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

// An alias is counted as every value it stands for, whether its anchor was walked once
// or many times: the limit is the same to the value.
TEST(YamlFile, AliasesCountEveryValueTheyStandFor) {
    // root, "a", the anchored list and its 999 values, "b", b's list, 998 aliases of 1,000
    // values each, "c" and c's list: 1,000,000 values with `filler` scalars in c's list.
    auto document = [](int filler) {
        std::string text = "a: &a [";
        for (int i = 0; i < 999; ++i) text += i ? ", x" : "x";
        text += "]\nb: [";
        for (int i = 0; i < 998; ++i) text += i ? ", *a" : "*a";
        text += "]\nc: [";
        for (int i = 0; i < filler; ++i) text += i ? ", y" : "y";
        return text + "]\n";
    };
    EXPECT_NO_THROW(load_yaml_text(document(994), "exact"));
    try {
        load_yaml_text(document(995), "one-more");
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("expands to more than 1000000 values"), std::string::npos) << e.what();
    }
}

// A list nested `levels` deep, with `values` scalars at the bottom.
static std::string nested_list(int levels, int values) {
    std::string inner;
    for (int i = 0; i < values; ++i) inner += i ? ", x" : "x";
    return std::string(static_cast<std::size_t>(levels), '[') + inner + std::string(static_cast<std::size_t>(levels), ']');
}

// The depth limit holds where an alias is used, not only where its anchor stands: both
// for a small anchor, walked again, and a large one, whose depth is remembered.
TEST(YamlFile, AliasesCarryTheirDepth) {
    for (int values : {1, 100}) {
        SCOPED_TRACE(values);
        // the anchor's deepest scalar is at level 1 + 40; an alias at level 1 + 20 puts it at 61
        std::string anchor = "a: &a " + nested_list(40, values) + "\n";
        EXPECT_NO_THROW(load_yaml_text(anchor + "b: " + std::string(20, '[') + "*a" + std::string(20, ']') + "\n", "ok"));
        // and at level 1 + 30 at 71, past 64
        std::string deep = anchor + "b: " + std::string(30, '[') + "*a" + std::string(30, ']') + "\n";
        try {
            load_yaml_text(deep, "deep");
            ADD_FAILURE() << "no error";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("deep:1: nesting is deeper than 64 levels"), std::string::npos) << e.what();
        }
    }
}

// Each value is still checked the first time it is met, inside an anchored collection too.
TEST(YamlFile, AnchoredValuesAreChecked) {
    std::string big = "a: &a [";
    for (int i = 0; i < 100; ++i) big += "x, ";
    EXPECT_THROW(load_yaml_text(big + "\"\\U0011FFFF\"]\nb: *a\n", "utf8"), ConfigError);
    EXPECT_THROW(load_yaml_text("a: &a {k: v}\nb: [*a, *a]\nc: {[1]: 2}\n", "key"), ConfigError);
}

TEST(YamlFile, NanAndInfinityStayText) {
    auto v = yaml_to_json(YAML::Load("a: nan\nb: inf\nc: -infinity\nd: 1.5\n"));
    EXPECT_EQ(v.as_object().at("a").as_string(), "nan");
    EXPECT_EQ(v.as_object().at("b").as_string(), "inf");
    EXPECT_EQ(v.as_object().at("c").as_string(), "-infinity");
    EXPECT_DOUBLE_EQ(v.as_object().at("d").as_double(), 1.5);
    // and so /conf stays JSON
    EXPECT_NO_THROW(boost::json::parse(boost::json::serialize(v)));
}

TEST(YamlFile, ConfigErrorFormat) {
    EXPECT_STREQ(ConfigError("/etc/x", 7, "bad").what(), "/etc/x:7: bad");
    EXPECT_STREQ(ConfigError("/etc/x", 0, "bad").what(), "/etc/x: bad");
}

TEST(QueueSettings, DefaultsArePostfixs) {
    TempDir dir;
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->queue.store, "sqlite");
    EXPECT_EQ(c->queue.path, dir.path() + "/var/queue.db");
    EXPECT_EQ(c->queue.min_backoff, 300);
    EXPECT_EQ(c->queue.max_backoff, 4000);
    EXPECT_EQ(c->queue.max_lifetime, 432000);
    EXPECT_TRUE(c->queue.bounce);
    EXPECT_EQ(c->queue.max_concurrency, 64);
    EXPECT_EQ(c->v1.max_recipients, 100);
    EXPECT_TRUE(c->webhooks.empty());
}

TEST(QueueSettings, ReadsEverySection) {
    TempDir dir;
    dir.write("etc/haineko.cf",
              "smtpd:\n  hostname: mx.example.jp\n"
              "queue:\n  path: 'spool/q.db'\n  min_backoff: 60\n  max_backoff: 600\n  max_lifetime: 3600\n"
              "  bounce: 0\n  max_concurrency: 8\n"
              "v1:\n  max_recipients: 10\n"
              "webhooks:\n  - url: 'https://hooks.example.net/haineko'\n    secret: 's3cret'\n"
              "    events: ['delivered', 'bounced']\n  - url: 'http://127.0.0.1:18081/'\n    secret: 'x'\n");
    dir.write("etc/mailertable", "example.org:\n  mailer: ESMTP\n  min_backoff: 30\n  max_lifetime: 0\n");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->queue.path, dir.path() + "/spool/q.db");
    EXPECT_EQ(c->queue.min_backoff, 60);
    EXPECT_EQ(c->queue.max_backoff, 600);
    EXPECT_EQ(c->queue.max_lifetime, 3600);
    EXPECT_FALSE(c->queue.bounce);
    EXPECT_EQ(c->queue.max_concurrency, 8);
    EXPECT_EQ(c->v1.max_recipients, 10);
    ASSERT_EQ(c->webhooks.size(), 2u);
    EXPECT_EQ(c->webhooks[0].events, (std::vector<std::string>{"delivered", "bounced"}));
    EXPECT_TRUE(c->webhooks[1].events.empty());
    const Route& r = c->mailertable.at("example.org");
    EXPECT_EQ(r.min_backoff, 30);
    EXPECT_EQ(r.max_lifetime, 0);
    EXPECT_FALSE(r.max_backoff);
}

TEST(QueueSettings, APostgresqlUrlFromTheFileOrTheEnvironment) {
    TempDir dir;
    dir.write("etc/haineko.cf", "queue:\n  store: 'postgresql://q:secret@db.example:5432/haineko'\n");
    ::unsetenv("HAINEKO_QUEUE_URL");
    auto c = load_config(options_for(dir));
    EXPECT_EQ(c->queue.store, "postgresql");
    EXPECT_EQ(c->queue.url, "postgresql://q:secret@db.example:5432/haineko");
    const std::string shown = boost::json::serialize(c->conf_data);
    EXPECT_EQ(shown.find("secret"), std::string::npos) << shown;
    EXPECT_NE(shown.find("postgresql://q:********@db.example:5432/haineko"), std::string::npos) << shown;
    ::setenv("HAINEKO_QUEUE_URL", "postgres://other@db2.example/q", 1);
    c = load_config(options_for(dir));
    EXPECT_EQ(c->queue.url, "postgres://other@db2.example/q");
    EXPECT_EQ(c->queue.url_source, "HAINEKO_QUEUE_URL");
    dir.write("etc/haineko.cf", "smtpd:\n  hostname: 'x.example.jp'\n");  // no queue section at all
    c = load_config(options_for(dir));
    EXPECT_EQ(c->queue.store, "postgresql");
    ::setenv("HAINEKO_QUEUE_URL", "mysql://nope", 1);
    EXPECT_NE(config_error(options_for(dir)).find("HAINEKO_QUEUE_URL must be a postgresql:// URL"), std::string::npos);
    ::unsetenv("HAINEKO_QUEUE_URL");
}

TEST(QueueSettings, BadValuesNameTheirLine) {
    TempDir dir;
    dir.write("etc/haineko.cf", "queue:\n  min_backoff: soon\n");
    EXPECT_NE(config_error(options_for(dir)).find("haineko.cf:2: min_backoff must be a whole number"), std::string::npos);
    dir.write("etc/haineko.cf", "queue:\n  store: 'oracle'\n");
    EXPECT_NE(config_error(options_for(dir)).find(":2: queue.store must be 'sqlite'"), std::string::npos);
    dir.write("etc/haineko.cf", "queue: [1, 2]\n");
    EXPECT_NE(config_error(options_for(dir)).find(":1: queue must be a mapping"), std::string::npos);
    dir.write("etc/haineko.cf", "webhooks:\n  - url: 'ftp://x.example/'\n    secret: 'a'\n");
    EXPECT_NE(config_error(options_for(dir)).find(":2: webhook url must be an http:// or https:// URL"), std::string::npos);
    dir.write("etc/haineko.cf", "webhooks:\n  - url: 'https://x.example/'\n");
    EXPECT_NE(config_error(options_for(dir)).find("a webhook needs a secret"), std::string::npos);
    dir.write("etc/haineko.cf", "webhooks:\n  - url: 'https://x.example/'\n    secret: 'a'\n    events: ['sent']\n");
    EXPECT_NE(config_error(options_for(dir)).find("not an event type: 'sent'"), std::string::npos);
}
