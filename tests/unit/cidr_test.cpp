#include <gtest/gtest.h>

#include "core/cidr.hpp"

using namespace haineko;

namespace {
boost::asio::ip::address ip(const char* text) {
    auto a = parse_ip(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(boost::asio::ip::address{});
}
}  // namespace

TEST(ParseIp, Basics) {
    ASSERT_TRUE(parse_ip("192.0.2.1"));
    EXPECT_TRUE(parse_ip("192.0.2.1")->is_v4());
    ASSERT_TRUE(parse_ip("2001:db8::1"));
    EXPECT_TRUE(parse_ip("2001:db8::1")->is_v6());
    EXPECT_FALSE(parse_ip(""));
    EXPECT_FALSE(parse_ip("example.jp"));
    EXPECT_FALSE(parse_ip("256.0.0.1"));
    EXPECT_FALSE(parse_ip("1.2.3"));
}

TEST(ParseIp, V4MappedComesBackAsV4) {
    auto a = parse_ip("::ffff:192.0.2.7");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->is_v4());
    EXPECT_EQ(a->to_string(), "192.0.2.7");
}

TEST(Cidr, Ipv4Network) {
    auto net = Cidr::parse("192.0.2.0/24");
    ASSERT_TRUE(net);
    EXPECT_TRUE(net->contains(ip("192.0.2.0")));
    EXPECT_TRUE(net->contains(ip("192.0.2.255")));
    EXPECT_FALSE(net->contains(ip("192.0.3.0")));
    EXPECT_FALSE(net->contains(ip("192.0.1.255")));
}

TEST(Cidr, Ipv4OddPrefix) {
    auto net = Cidr::parse("10.0.0.0/9");
    ASSERT_TRUE(net);
    EXPECT_TRUE(net->contains(ip("10.127.255.255")));
    EXPECT_FALSE(net->contains(ip("10.128.0.0")));
    auto host_bits_set = Cidr::parse("192.0.2.77/28");  // host bits are ignored
    ASSERT_TRUE(host_bits_set);
    EXPECT_TRUE(host_bits_set->contains(ip("192.0.2.64")));
    EXPECT_TRUE(host_bits_set->contains(ip("192.0.2.79")));
    EXPECT_FALSE(host_bits_set->contains(ip("192.0.2.80")));
}

TEST(Cidr, SingleAddressAndEdges) {
    auto one = Cidr::parse("127.0.0.1");
    ASSERT_TRUE(one);
    EXPECT_TRUE(one->contains(ip("127.0.0.1")));
    EXPECT_FALSE(one->contains(ip("127.0.0.2")));
    auto all = Cidr::parse("0.0.0.0/0");
    ASSERT_TRUE(all);
    EXPECT_TRUE(all->contains(ip("203.0.113.9")));
    EXPECT_FALSE(all->contains(ip("2001:db8::1")));  // families do not mix
    auto full = Cidr::parse("198.51.100.4/32");
    ASSERT_TRUE(full);
    EXPECT_TRUE(full->contains(ip("198.51.100.4")));
    EXPECT_FALSE(full->contains(ip("198.51.100.5")));
    auto spaced = Cidr::parse("  192.0.2.0/24 ");
    ASSERT_TRUE(spaced);
    EXPECT_TRUE(spaced->contains(ip("192.0.2.9")));
}

TEST(Cidr, Ipv6Network) {
    auto net = Cidr::parse("2001:db8::/32");
    ASSERT_TRUE(net);
    EXPECT_TRUE(net->contains(ip("2001:db8::1")));
    EXPECT_TRUE(net->contains(ip("2001:db8:ffff:ffff::1")));
    EXPECT_FALSE(net->contains(ip("2001:db9::1")));
    EXPECT_FALSE(net->contains(ip("192.0.2.1")));
    auto odd = Cidr::parse("2001:db8:8000::/33");
    ASSERT_TRUE(odd);
    EXPECT_TRUE(odd->contains(ip("2001:db8:ffff::1")));
    EXPECT_FALSE(odd->contains(ip("2001:db8:7fff::1")));
    auto loop = Cidr::parse("::1/128");
    ASSERT_TRUE(loop);
    EXPECT_TRUE(loop->contains(ip("::1")));
    EXPECT_FALSE(loop->contains(ip("::2")));
}

TEST(Cidr, V4MappedAddressMatchesV4Network) {
    auto net = Cidr::parse("192.0.2.0/24");
    ASSERT_TRUE(net);
    auto mapped = boost::asio::ip::make_address("::ffff:192.0.2.50");
    ASSERT_TRUE(mapped.is_v6());
    EXPECT_TRUE(net->contains(mapped));
    EXPECT_FALSE(net->contains(boost::asio::ip::make_address("::ffff:192.0.3.50")));
    // a network written v4-mapped is an IPv4 network
    auto mapped_net = Cidr::parse("::ffff:10.0.0.1");
    ASSERT_TRUE(mapped_net);
    EXPECT_TRUE(mapped_net->contains(ip("10.0.0.1")));
}

TEST(Cidr, BadInput) {
    EXPECT_FALSE(Cidr::parse("192.0.2.0/33"));
    EXPECT_FALSE(Cidr::parse("2001:db8::/129"));
    EXPECT_FALSE(Cidr::parse("192.0.2.0/"));
    EXPECT_FALSE(Cidr::parse("192.0.2.0/-1"));
    EXPECT_FALSE(Cidr::parse("192.0.2.0/24x"));
    EXPECT_FALSE(Cidr::parse("192.0.2.0/ 24"));
    EXPECT_FALSE(Cidr::parse("192.0.2.0/24/8"));
    EXPECT_FALSE(Cidr::parse("/24"));
    EXPECT_FALSE(Cidr::parse(""));
    EXPECT_FALSE(Cidr::parse("garbage"));
    EXPECT_FALSE(Cidr::parse("example.jp/24"));
    EXPECT_FALSE(Cidr::parse("999.0.0.0/8"));
}

TEST(Cidr, AnyContains) {
    std::vector<Cidr> nets{*Cidr::parse("127.0.0.1/32"), *Cidr::parse("::1/128"), *Cidr::parse("10.0.0.0/8")};
    EXPECT_TRUE(any_contains(nets, ip("10.1.2.3")));
    EXPECT_TRUE(any_contains(nets, ip("::1")));
    EXPECT_TRUE(any_contains(nets, ip("127.0.0.1")));
    EXPECT_FALSE(any_contains(nets, ip("192.0.2.1")));
    EXPECT_FALSE(any_contains({}, ip("127.0.0.1")));
}
