#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "policy/password.hpp"

using namespace haineko;

TEST(Password, KnownSshaVector) {
    // user haineko, password kijitora, as in the original's documentation
    const std::string stored = "{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn";
    EXPECT_TRUE(verify_password(stored, "kijitora"));
    EXPECT_FALSE(verify_password(stored, "kijitorA"));
    EXPECT_FALSE(verify_password(stored, "kijitor"));
    EXPECT_FALSE(verify_password(stored, ""));
}

TEST(Password, RoundTripsForEveryScheme) {
    for (const char* scheme : {"SSHA", "SSHA256", "SSHA512"}) {
        SCOPED_TRACE(scheme);
        std::string stored = hash_password("s3cret \xe7\x8c\xab", scheme);
        EXPECT_EQ(stored.rfind(std::string("{") + scheme + "}", 0), 0u) << stored;
        EXPECT_TRUE(verify_password(stored, "s3cret \xe7\x8c\xab"));
        EXPECT_FALSE(verify_password(stored, "s3cret"));
        EXPECT_FALSE(verify_password(stored, "S3cret \xe7\x8c\xab"));
    }
}

TEST(Password, DefaultSchemeIsSsha512AndSaltsDiffer) {
    std::string a = hash_password("pw");
    std::string b = hash_password("pw");
    EXPECT_EQ(a.rfind("{SSHA512}", 0), 0u);
    EXPECT_NE(a, b);
    EXPECT_TRUE(verify_password(a, "pw"));
    EXPECT_TRUE(verify_password(b, "pw"));
}

TEST(Password, WithSaltIsDeterministicAndHasDigestPlusSalt) {
    std::string a = hash_password_with_salt("pw", "SSHA256", "saltsalt");
    EXPECT_EQ(a, hash_password_with_salt("pw", "SSHA256", "saltsalt"));
    auto raw = base64_decode(a.substr(std::string("{SSHA256}").size()));
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->size(), 32u + 8u);
    EXPECT_EQ(raw->substr(32), "saltsalt");
    EXPECT_TRUE(verify_password(a, "pw"));
    EXPECT_THROW(hash_password_with_salt("pw", "MD5", "salt"), std::invalid_argument);
}

TEST(Password, SchemeIsCaseSensitiveAndSwappedSchemeFails) {
    std::string stored = hash_password_with_salt("pw", "SSHA", "abcd");
    EXPECT_TRUE(verify_password(stored, "pw"));
    std::string body = stored.substr(6);
    EXPECT_FALSE(verify_password("{SSHA256}" + body, "pw"));  // 20-byte digest + salt is too short for SHA-256
    EXPECT_FALSE(verify_password("{ssha}" + body, "pw"));
}

TEST(Password, MalformedStoredValuesFail) {
    EXPECT_FALSE(verify_password("", ""));
    EXPECT_FALSE(verify_password("kijitora", "kijitora"));
    EXPECT_FALSE(verify_password("{MD5}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn", "kijitora"));
    EXPECT_FALSE(verify_password("{CRYPT}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn", "kijitora"));
    EXPECT_FALSE(verify_password("{SSHA9p2euyteR33mp0TYKjmYhTlIt1ctxuRn", "kijitora"));
    EXPECT_FALSE(verify_password("{}9p2euyteR33mp0TYKjmYhTlIt1ctxuRn", "kijitora"));
    // bad base64
    EXPECT_FALSE(verify_password("{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxu!n", "kijitora"));
    EXPECT_FALSE(verify_password("{SSHA}9p2euyteR33mp0TYKjmYhTlIt1ctxuR", "kijitora"));
    // too short: a digest with no salt, or less than a digest
    const std::string digest_only(20, 'x');
    EXPECT_FALSE(verify_password("{SSHA}" + base64_encode(digest_only), "kijitora"));
    EXPECT_FALSE(verify_password("{SSHA}" + base64_encode("short"), "kijitora"));
    EXPECT_FALSE(verify_password("{SSHA}", ""));
    EXPECT_FALSE(verify_password("{SSHA512}" + base64_encode(std::string(64, 'a')), ""));
}

TEST(Base64, KnownVectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode(std::string("\x00\xff\xfe", 3)), "AP/+");
    EXPECT_EQ(base64_decode("Zg==").value_or("?"), "f");
    EXPECT_EQ(base64_decode("Zm8=").value_or("?"), "fo");
    EXPECT_EQ(base64_decode("Zm9vYmFy").value_or("?"), "foobar");
    EXPECT_EQ(base64_decode("").value_or("?"), "");
    EXPECT_EQ(base64_decode("AP/+").value_or("?"), std::string("\x00\xff\xfe", 3));
}

TEST(Base64, DecodeIgnoresLineBreaks) {
    EXPECT_EQ(base64_decode("Zm9v\r\nYmFy").value_or("?"), "foobar");
    EXPECT_EQ(base64_decode("Zm9v YmFy\n").value_or("?"), "foobar");
}

TEST(Base64, DecodeRejectsGarbage) {
    EXPECT_FALSE(base64_decode("Zm9"));
    EXPECT_FALSE(base64_decode("Zm9v!mFy"));
    EXPECT_FALSE(base64_decode("@@@@"));
}

TEST(Base64, DecodeRejectsMisplacedPadding) {
    // "=" may only end the text; padding alone or inside is not base64
    EXPECT_FALSE(base64_decode("===="));
    EXPECT_FALSE(base64_decode("A==="));
    EXPECT_FALSE(base64_decode("=Zg="));
    EXPECT_FALSE(base64_decode("Zg=a"));
    EXPECT_FALSE(base64_decode("Zg==Zg=="));
}

TEST(Base64, RoundTripAllBytes) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (size_t len = 0; len < 10; ++len) {
        std::string piece = all.substr(len * 7, len);
        EXPECT_EQ(base64_decode(base64_encode(piece)).value_or("?"), piece);
    }
    EXPECT_EQ(base64_decode(base64_encode(all)).value_or("?"), all);
}
