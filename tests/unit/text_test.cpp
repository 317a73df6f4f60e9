#include <gtest/gtest.h>

#include "core/text.hpp"

using namespace haineko;

TEST(Utf8, ValidAndInvalidSequences) {
    for (const char* good : {"", "plain ascii", "\xC3\xA9", "\xE3\x81\xAD\xE3\x81\x93", "\xF0\x9F\x90\xB1", "\xEF\xBF\xBD",
                             "\xF4\x8F\xBF\xBF"}) {
        SCOPED_TRACE(good);
        EXPECT_TRUE(is_valid_utf8(good));
        EXPECT_EQ(repaired_utf8(good), good);
    }
    for (const char* bad : {"\xff", "\xC3", "\xC0\xAF" /* overlong */, "\xE0\x80\xAF" /* overlong */,
                            "\xED\xA0\x80" /* surrogate */, "\xF4\x90\x80\x80" /* past U+10FFFF */, "a\x80z",
                            "\xE3\x81"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(is_valid_utf8(bad));
        EXPECT_TRUE(is_valid_utf8(repaired_utf8(bad)));
    }
    EXPECT_EQ(repaired_utf8("a\xffz"), "a\xEF\xBF\xBDz");
    // the word-at-a-time ASCII scan must not skip a bad byte past the first eight
    EXPECT_FALSE(is_valid_utf8("0123456789abcdef\xff"));
}

TEST(Loggable, ControlCharactersAreEscaped) {
    EXPECT_EQ(loggable("a\r\nb\x7f"), "a\\x0d\\x0ab\\x7f");
    EXPECT_EQ(loggable("\xE3\x81\xAD"), "\xE3\x81\xAD");
}
