#include <gtest/gtest.h>

#include "core/address.hpp"

using namespace haineko;

TEST(Address, HasNonAscii) {
    EXPECT_FALSE(has_non_ascii(""));
    EXPECT_FALSE(has_non_ascii("plain ascii ~\x7f"));
    EXPECT_TRUE(has_non_ascii("caf\xc3\xa9"));
    EXPECT_TRUE(has_non_ascii("\x80"));
    EXPECT_TRUE(has_non_ascii("猫"));
}

TEST(Address, ValidAddresses) {
    EXPECT_TRUE(is_email_address("user@example.org"));
    EXPECT_TRUE(is_email_address("first.last+tag@sub.example.co.jp"));
    EXPECT_TRUE(is_email_address("a!#$%&'*+/=?^_`{|}~-z@example.org"));
    EXPECT_TRUE(is_email_address("\"quoted local\"@example.org"));
    EXPECT_TRUE(is_email_address("\"with \\\" escape\"@example.org"));
    EXPECT_TRUE(is_email_address("user@[192.0.2.1]"));
    EXPECT_TRUE(is_email_address("user@localhost"));
    // the original let dots gather before "@"
    EXPECT_TRUE(is_email_address("user.@example.org"));
}

TEST(Address, InvalidAddresses) {
    EXPECT_FALSE(is_email_address(""));
    EXPECT_FALSE(is_email_address("user"));
    EXPECT_FALSE(is_email_address("@example.org"));
    EXPECT_FALSE(is_email_address("user@"));
    EXPECT_FALSE(is_email_address(".user@example.org"));
    EXPECT_FALSE(is_email_address("us..er@example.org"));
    EXPECT_FALSE(is_email_address("user@example..org"));
    EXPECT_FALSE(is_email_address("user@example.org."));
    EXPECT_FALSE(is_email_address("user@.example.org"));
    EXPECT_FALSE(is_email_address("us er@example.org"));
    EXPECT_FALSE(is_email_address("user@exa mple.org"));
    EXPECT_FALSE(is_email_address("Name <user@example.org>"));
    EXPECT_FALSE(is_email_address("<user@example.org>"));
    EXPECT_FALSE(is_email_address("user@example.org\r\nBcc: x@example.org"));
    EXPECT_FALSE(is_email_address("user\n@example.org"));
    EXPECT_FALSE(is_email_address(std::string("user\0@example.org", 17)));
    EXPECT_FALSE(is_email_address("user\x7f@example.org"));
    EXPECT_FALSE(is_email_address("\"unterminated@example.org"));
    EXPECT_FALSE(is_email_address("user@[192.0.2.1"));
    EXPECT_FALSE(is_email_address("us(er@example.org"));
}

TEST(Address, NonAsciiOnlyAllowedByUtf8Variant) {
    const std::string jp = "\xe7\x8c\xab@example.jp";  // 猫@example.jp
    const std::string idn = "user@\xe7\x8c\xab.example.jp";
    EXPECT_FALSE(is_email_address(jp));
    EXPECT_FALSE(is_email_address(idn));
    EXPECT_TRUE(is_email_address_allowing_utf8(jp));
    EXPECT_TRUE(is_email_address_allowing_utf8(idn));
    EXPECT_TRUE(is_email_address_allowing_utf8("user@example.org"));
    // non-ASCII is not the only fault here
    EXPECT_FALSE(is_email_address_allowing_utf8("\xe7\x8c\xab"));
    EXPECT_FALSE(is_email_address_allowing_utf8("\xe7\x8c\xab @example.jp"));
    EXPECT_FALSE(is_email_address_allowing_utf8("\xe7\x8c\xab@"));
}

TEST(Address, EhloHostnames) {
    EXPECT_TRUE(is_valid_ehlo("example.jp"));
    EXPECT_TRUE(is_valid_ehlo("mx1.example.jp"));
    EXPECT_TRUE(is_valid_ehlo("client-01.example.NET"));
    EXPECT_FALSE(is_valid_ehlo(""));
    EXPECT_FALSE(is_valid_ehlo("localhost"));
    EXPECT_FALSE(is_valid_ehlo("cat@example.jp"));
    EXPECT_FALSE(is_valid_ehlo("example.123"));
    EXPECT_FALSE(is_valid_ehlo("example."));
    EXPECT_FALSE(is_valid_ehlo(".jp"));
    EXPECT_FALSE(is_valid_ehlo("exa mple.jp"));
    EXPECT_FALSE(is_valid_ehlo("example.j1"));
    EXPECT_FALSE(is_valid_ehlo("ex_ample.jp"));
    EXPECT_FALSE(is_valid_ehlo("example.jp\r\nMAIL FROM:<x@y.z>"));
    EXPECT_FALSE(is_valid_ehlo(std::string(250, 'a') + ".example.jp"));
}

TEST(Address, EhloIpv4Literals) {
    EXPECT_TRUE(is_valid_ehlo("127.0.0.1"));
    EXPECT_TRUE(is_valid_ehlo("[127.0.0.1]"));
    EXPECT_TRUE(is_valid_ehlo("255.255.255.255"));
    EXPECT_TRUE(is_valid_ehlo("[192.0.2.10]"));
    EXPECT_FALSE(is_valid_ehlo("[300.1.1.1]"));
    EXPECT_FALSE(is_valid_ehlo("300.1.1.1"));
    EXPECT_FALSE(is_valid_ehlo("1.2.3"));
    EXPECT_FALSE(is_valid_ehlo("[1.2.3]"));
    EXPECT_FALSE(is_valid_ehlo("1.2.3.4.5"));
    EXPECT_FALSE(is_valid_ehlo("1..2.3"));
    EXPECT_FALSE(is_valid_ehlo("[1.2.3.4"));
    EXPECT_FALSE(is_valid_ehlo("[]"));
    EXPECT_FALSE(is_valid_ehlo("[example.jp]"));
}

TEST(Address, DomainOf) {
    EXPECT_EQ(domain_of("user@Example.ORG"), "example.org");
    EXPECT_EQ(domain_of("\"a@b\"@Example.jp"), "example.jp");
    EXPECT_EQ(domain_of("no-at-sign"), "");
    EXPECT_EQ(domain_of("user@"), "");
    EXPECT_EQ(domain_of(""), "");
}

TEST(Address, AddressIn) {
    EXPECT_EQ(address_in("Name <User@Example.org>"), "User@Example.org");
    EXPECT_EQ(address_in("\"Last, First\" <first@example.org>"), "first@example.org");
    EXPECT_EQ(address_in("  bare@example.org  "), "bare@example.org");
    EXPECT_EQ(address_in("bare@example.org"), "bare@example.org");
    EXPECT_EQ(address_in("<only@example.org>"), "only@example.org");
    EXPECT_EQ(address_in("\xe7\x8c\xab <neko@example.jp>"), "neko@example.jp");
    EXPECT_EQ(address_in(""), "");
}

TEST(Address, ToLower) {
    EXPECT_EQ(to_lower("MiXeD.Example.JP"), "mixed.example.jp");
    EXPECT_EQ(to_lower("\xe7\x8c\xab"), "\xe7\x8c\xab");
}

TEST(EmailAddress, QuotedLocalPartMayNotHoldAngleBrackets) {
    // Legal in RFC 5321, but a naive relay would read what follows ">" as ESMTP parameters.
    EXPECT_FALSE(haineko::is_email_address("\"x> NOTIFY=SUCCESS\"@example.org"));
    EXPECT_FALSE(haineko::is_email_address("\"x\\>y\"@example.org"));
    EXPECT_FALSE(haineko::is_email_address("\"<x\"@example.org"));
    EXPECT_TRUE(haineko::is_email_address("\"john smith\"@example.org"));
}
