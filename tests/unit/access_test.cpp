#include <gtest/gtest.h>

#include "policy/access.hpp"
#include "core/base64.hpp"
#include "policy/password.hpp"

using namespace haineko;

namespace {

Config proxy_config() {
    Config c;
    c.smtpd.trusted_proxies = {*Cidr::parse("10.0.0.0/8"), *Cidr::parse("::1/128")};
    return c;
}

}  // namespace

TEST(EffectiveClient, NoHeaderOrUntrustedPeer) {
    Config c = proxy_config();
    EXPECT_EQ(effective_client_address(c, "192.0.2.9", ""), "192.0.2.9");
    // an untrusted peer cannot claim to be somebody else
    EXPECT_EQ(effective_client_address(c, "192.0.2.9", "127.0.0.1"), "192.0.2.9");
    EXPECT_EQ(effective_client_address(c, "192.0.2.9", "10.0.0.1, 127.0.0.1"), "192.0.2.9");
}

TEST(EffectiveClient, NoTrustedProxiesMeansHeaderIgnored) {
    Config c;  // none configured
    EXPECT_EQ(effective_client_address(c, "127.0.0.1", "203.0.113.5"), "127.0.0.1");
}

TEST(EffectiveClient, TrustedProxyGivesNearestUntrustedHop) {
    Config c = proxy_config();
    EXPECT_EQ(effective_client_address(c, "10.1.1.1", "203.0.113.5"), "203.0.113.5");
    // walk right to left past the trusted hops; the left-most entries are the client's claims
    EXPECT_EQ(effective_client_address(c, "10.1.1.1", "127.0.0.1, 203.0.113.5, 10.2.2.2"), "203.0.113.5");
    EXPECT_EQ(effective_client_address(c, "10.1.1.1", "198.51.100.1,203.0.113.5"), "203.0.113.5");
    EXPECT_EQ(effective_client_address(c, "::1", " 203.0.113.7 "), "203.0.113.7");
}

TEST(EffectiveClient, AllHopsTrusted) {
    Config c = proxy_config();
    EXPECT_EQ(effective_client_address(c, "10.1.1.1", "10.3.3.3, 10.2.2.2"), "10.3.3.3");
}

TEST(EffectiveClient, GarbageHopStopsTheWalk) {
    Config c = proxy_config();
    EXPECT_EQ(effective_client_address(c, "10.1.1.1", "127.0.0.1, not-an-ip"), "10.1.1.1");
    EXPECT_EQ(effective_client_address(c, "10.1.1.1", "127.0.0.1, unknown, 10.2.2.2"), "10.2.2.2");
}

TEST(EffectiveClient, V4MappedPeerIsUnmapped) {
    Config c = proxy_config();
    EXPECT_EQ(effective_client_address(c, "::ffff:192.0.2.4", ""), "192.0.2.4");
    EXPECT_EQ(effective_client_address(c, "::ffff:10.0.0.9", "203.0.113.5"), "203.0.113.5");
    EXPECT_EQ(effective_client_address(c, "10.0.0.9", "::ffff:203.0.113.6"), "203.0.113.6");
}

TEST(RelayPermitted, ListedNetworksOnly) {
    Config c;
    c.relayhosts.networks = {*Cidr::parse("127.0.0.1"), *Cidr::parse("192.0.2.0/24")};
    EXPECT_TRUE(relay_permitted(c, "127.0.0.1", false));
    EXPECT_TRUE(relay_permitted(c, "192.0.2.200", false));
    EXPECT_TRUE(relay_permitted(c, "::ffff:192.0.2.200", false));
    EXPECT_FALSE(relay_permitted(c, "198.51.100.1", false));
    EXPECT_FALSE(relay_permitted(c, "garbage", false));
    EXPECT_FALSE(relay_permitted(c, "", false));
    // an authenticated client may relay from anywhere
    EXPECT_TRUE(relay_permitted(c, "198.51.100.1", true));
}

TEST(RelayPermitted, OpenRelay) {
    Config c;
    c.relayhosts.open_relay = true;
    EXPECT_TRUE(relay_permitted(c, "198.51.100.1", false));
}

TEST(RecipientPermitted, DomainsAndAddresses) {
    Config c;
    c.recipients.domains = {"example.jp"};
    c.recipients.addresses = {"Kijitora@example.org"};
    EXPECT_TRUE(recipient_permitted(c, "anyone@example.jp"));
    EXPECT_TRUE(recipient_permitted(c, "anyone@EXAMPLE.JP"));
    EXPECT_TRUE(recipient_permitted(c, "anyone@Example.Jp"));
    EXPECT_FALSE(recipient_permitted(c, "anyone@sub.example.jp"));
    EXPECT_FALSE(recipient_permitted(c, "anyone@example.jp.evil.test"));
    EXPECT_TRUE(recipient_permitted(c, "Kijitora@example.org"));
    EXPECT_TRUE(recipient_permitted(c, "Kijitora@EXAMPLE.org"));
    EXPECT_FALSE(recipient_permitted(c, "mike@example.org"));
    EXPECT_FALSE(recipient_permitted(c, "no-at-sign"));
    EXPECT_FALSE(recipient_permitted(c, ""));
}

TEST(RecipientPermitted, OpenRelay) {
    Config c;
    c.recipients.open_relay = true;
    EXPECT_TRUE(recipient_permitted(c, "anyone@anywhere.example"));
}

TEST(BasicAuth, ValidAndInvalidCredentials) {
    Config c;
    c.basic_auth = true;
    c.passwords["haineko"] = "{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn";
    c.passwords["mike"] = hash_password_with_salt("pa:ss", "SSHA512", "12345678");
    auto header = [](const std::string& userpass) { return "Basic " + base64_encode(userpass); };
    EXPECT_EQ(basic_auth_user(c, header("haineko:kijitora")).value_or("?"), "haineko");
    EXPECT_EQ(basic_auth_user(c, "basic " + base64_encode("haineko:kijitora")).value_or("?"), "haineko");
    EXPECT_EQ(basic_auth_user(c, "BASIC  " + base64_encode("haineko:kijitora") + " ").value_or("?"), "haineko");
    // a colon in the password belongs to the password
    EXPECT_EQ(basic_auth_user(c, header("mike:pa:ss")).value_or("?"), "mike");
    EXPECT_FALSE(basic_auth_user(c, header("haineko:wrong")));
    EXPECT_FALSE(basic_auth_user(c, header("haineko:")));
    EXPECT_FALSE(basic_auth_user(c, header("nobody:kijitora")));
    EXPECT_FALSE(basic_auth_user(c, header("haineko")));
    EXPECT_FALSE(basic_auth_user(c, header(":kijitora")));
    EXPECT_FALSE(basic_auth_user(c, "Bearer " + base64_encode("haineko:kijitora")));
    EXPECT_FALSE(basic_auth_user(c, "Basic !!!notbase64"));
    EXPECT_FALSE(basic_auth_user(c, "Basic"));
    EXPECT_FALSE(basic_auth_user(c, ""));
}

TEST(IsLoopback, Addresses) {
    EXPECT_TRUE(is_loopback("127.0.0.1"));
    EXPECT_TRUE(is_loopback("127.1.2.3"));
    EXPECT_TRUE(is_loopback("::1"));
    EXPECT_TRUE(is_loopback("::ffff:127.0.0.1"));
    EXPECT_FALSE(is_loopback("192.0.2.1"));
    EXPECT_FALSE(is_loopback("localhost"));
    EXPECT_FALSE(is_loopback(""));
}
