#include <gtest/gtest.h>

#include "message/charset.hpp"

using namespace haineko;

TEST(Charset, Canonical) {
    EXPECT_EQ(canonical_charset("UTF-8"), "UTF-8");
    EXPECT_EQ(canonical_charset("utf-8"), "UTF-8");
    EXPECT_EQ(canonical_charset("iso-2022-jp"), "ISO-2022-JP");
    EXPECT_EQ(canonical_charset("ISO-2022-JP"), "ISO-2022-JP");
    EXPECT_EQ(canonical_charset("Iso-8859-1"), "ISO-8859-1");
    EXPECT_EQ(canonical_charset("us-ascii"), "US-ASCII");
    // anything else is UTF-8
    EXPECT_EQ(canonical_charset(""), "UTF-8");
    EXPECT_EQ(canonical_charset("Shift_JIS"), "UTF-8");
    EXPECT_EQ(canonical_charset("EUC-JP"), "UTF-8");
    EXPECT_EQ(canonical_charset("ISO-8859-15"), "UTF-8");
    EXPECT_EQ(canonical_charset("x-unknown\r\nBcc: a@b"), "UTF-8");
}

TEST(Charset, Iso2022JpKnownBytes) {
    EXPECT_EQ(convert_from_utf8("\xe7\x8c\xab", "ISO-2022-JP").value_or("?"), "\x1b$BG-\x1b(B");
    // 猫です
    EXPECT_EQ(convert_from_utf8("\xe7\x8c\xab\xe3\x81\xa7\xe3\x81\x99", "ISO-2022-JP").value_or("?"),
              "\x1b$BG-$G$9\x1b(B");
    // ASCII around it: back in ASCII before the ASCII text and at the end
    EXPECT_EQ(convert_from_utf8("a\xe7\x8c\xab" "b", "ISO-2022-JP").value_or("?"), "a\x1b$BG-\x1b(Bb");
    EXPECT_EQ(convert_from_utf8("plain", "ISO-2022-JP").value_or("?"), "plain");
    EXPECT_EQ(convert_from_utf8("", "ISO-2022-JP").value_or("?"), "");
}

TEST(Charset, Iso2022JpAlwaysEndsInAscii) {
    auto r = convert_from_utf8("\xe5\x90\xbe\xe8\xbc\xa9\xe3\x81\xaf\xe7\x8c\xab", "ISO-2022-JP");
    ASSERT_TRUE(r);
    ASSERT_GE(r->size(), 3u);
    EXPECT_EQ(r->substr(r->size() - 3), "\x1b(B");
    EXPECT_EQ(r->substr(0, 3), "\x1b$B");
    for (unsigned char c : *r) EXPECT_LT(c, 0x80u);
}

TEST(Charset, Iso2022JpUnrepresentable) {
    EXPECT_FALSE(convert_from_utf8("\xe2\x91\xa0", "ISO-2022-JP"));       // ① (NEC special)
    EXPECT_FALSE(convert_from_utf8("\xf0\x9f\x90\xb1", "ISO-2022-JP"));   // U+1F431
    EXPECT_FALSE(convert_from_utf8("\xed\x95\x9c", "ISO-2022-JP"));       // 한
    EXPECT_FALSE(convert_from_utf8("ok \xe7\x8c\xab \xf0\x9f\x90\xb1", "ISO-2022-JP"));
}

TEST(Charset, Latin1) {
    EXPECT_EQ(convert_from_utf8("caf\xc3\xa9", "ISO-8859-1").value_or("?"), "caf\xe9");
    EXPECT_EQ(convert_from_utf8("\xc3\x9f\xc3\xbf", "ISO-8859-1").value_or("?"), "\xdf\xff");
    EXPECT_FALSE(convert_from_utf8("\xe7\x8c\xab", "ISO-8859-1"));
    EXPECT_FALSE(convert_from_utf8("\xe2\x82\xac", "ISO-8859-1"));  // the euro sign is not in Latin-1
}

TEST(Charset, UsAscii) {
    EXPECT_EQ(convert_from_utf8("hello\r\n", "US-ASCII").value_or("?"), "hello\r\n");
    EXPECT_FALSE(convert_from_utf8("caf\xc3\xa9", "US-ASCII"));
}

TEST(Charset, Utf8IsUnchanged) {
    std::string s = "caf\xc3\xa9 \xe7\x8c\xab \xf0\x9f\x90\xb1";
    EXPECT_EQ(convert_from_utf8(s, "UTF-8").value_or("?"), s);
}

TEST(Charset, InvalidUtf8InputIsRejectedForOtherCharsets) {
    EXPECT_FALSE(convert_from_utf8("caf\xe9", "ISO-8859-1"));
    EXPECT_FALSE(convert_from_utf8("\xe7\x8c", "ISO-2022-JP"));
}

TEST(Charset, LongInputCrossesTheConversionBuffer) {
    std::string in;
    for (int i = 0; i < 3000; ++i) in += "\xe7\x8c\xab";
    auto r = convert_from_utf8(in, "ISO-2022-JP");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->size(), 3u + 2u * 3000u + 3u);
    auto l = convert_from_utf8(std::string(10000, 'x') + "\xc3\xa9", "ISO-8859-1");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->size(), 10001u);
    EXPECT_EQ(l->back(), '\xe9');
}

TEST(Charset, Utf8SequenceLength) {
    EXPECT_EQ(utf8_sequence_length('a'), 1u);
    EXPECT_EQ(utf8_sequence_length(0xc3), 2u);
    EXPECT_EQ(utf8_sequence_length(0xe7), 3u);
    EXPECT_EQ(utf8_sequence_length(0xf0), 4u);
    EXPECT_EQ(utf8_sequence_length(0x80), 1u);  // a stray continuation byte
    EXPECT_EQ(utf8_sequence_length(0xff), 1u);
}
