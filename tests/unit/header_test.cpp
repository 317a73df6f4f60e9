#include <gtest/gtest.h>

#include <vector>

#include "message/header.hpp"
#include "test_support.hpp"

using namespace haineko;
using namespace haineko::test;

namespace {

const std::string kNeko = "\xe7\x8c\xab";  // 猫
// 吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。
const std::string kLongJapanese =
    "\xe5\x90\xbe\xe8\xbc\xa9\xe3\x81\xaf\xe7\x8c\xab\xe3\x81\xa7\xe3\x81\x82\xe3\x82\x8b\xe3\x80\x82"
    "\xe5\x90\x8d\xe5\x89\x8d\xe3\x81\xaf\xe3\x81\xbe\xe3\x81\xa0\xe7\x84\xa1\xe3\x81\x84\xe3\x80\x82"
    "\xe3\x81\xa9\xe3\x81\x93\xe3\x81\xa7\xe7\x94\x9f\xe3\x82\x8c\xe3\x81\x9f\xe3\x81\x8b\xe3\x81\xa8"
    "\xe3\x82\x93\xe3\x81\xa8\xe8\xa6\x8b\xe5\xbd\x93\xe3\x81\x8c\xe3\x81\xa4\xe3\x81\x8b\xe3\x81\xac"
    "\xe3\x80\x82";

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

// Every physical line ends in CRLF, is at most limit characters long, and every line after
// the first starts with white space (a continuation, never a header of its own).
void expect_well_folded(const std::string& field, std::string_view name, size_t limit = 78) {
    SCOPED_TRACE(field);
    ASSERT_GE(field.size(), 2u);
    EXPECT_EQ(field.substr(field.size() - 2), "\r\n");
    EXPECT_EQ(field.rfind(std::string(name) + ":", 0), 0u);
    // no bare CR or LF
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\r') {
            EXPECT_TRUE(i + 1 < field.size() && field[i + 1] == '\n') << "bare CR at " << i;
        }
        if (field[i] == '\n') {
            EXPECT_TRUE(i > 0 && field[i - 1] == '\r') << "bare LF at " << i;
        }
    }
    auto lines = crlf_lines(field);
    ASSERT_FALSE(lines.empty());
    for (size_t i = 0; i < lines.size(); ++i) {
        EXPECT_LE(lines[i].size(), limit) << "line " << i << ": " << lines[i];
        if (i > 0) {
            ASSERT_FALSE(lines[i].empty());
            EXPECT_TRUE(lines[i][0] == ' ' || lines[i][0] == '\t') << "line " << i << ": " << lines[i];
            EXPECT_NE(lines[i].find_first_not_of(" \t"), std::string::npos) << "white-space-only line " << i;
        }
    }
}

// Decodes every encoded word of a UTF-8 field on its own, checking each is valid UTF-8 and
// at most 75 characters; returns their concatenation.
std::string decode_utf8_words(const std::string& field) {
    std::string joined;
    auto words = find_encoded_words(field);
    EXPECT_FALSE(words.empty()) << field;
    for (const auto& w : words) {
        EXPECT_EQ(w.charset, "UTF-8");
        EXPECT_LE(w.raw.size(), 75u) << w.raw;
        EXPECT_TRUE(is_valid_utf8(w.decoded)) << "a character was split across words: " << w.raw;
        joined += w.decoded;
    }
    return joined;
}

std::string decode_jis_words(const std::string& field) {
    std::string joined;
    auto words = find_encoded_words(field);
    EXPECT_FALSE(words.empty()) << field;
    for (const auto& w : words) {
        EXPECT_EQ(w.charset, "ISO-2022-JP");
        EXPECT_LE(w.raw.size(), 75u) << w.raw;
        // self-contained: back in ASCII at the end, and convertible on its own
        EXPECT_GE(w.decoded.size(), 3u);
        if (w.decoded.find('\x1b') != std::string::npos) {
            EXPECT_EQ(w.decoded.substr(w.decoded.size() - 3), "\x1b(B") << w.raw;
        }
        for (unsigned char c : w.decoded) EXPECT_LT(c, 0x80u);
        auto utf8 = to_utf8(w.decoded, "ISO-2022-JP");
        EXPECT_TRUE(utf8.has_value()) << w.raw;
        joined += utf8.value_or("");
    }
    return joined;
}

}  // namespace

TEST(HeaderField, ShortAsciiValue) {
    EXPECT_EQ(header_field("Subject", "Hello world", "UTF-8"), "Subject: Hello world\r\n");
    EXPECT_EQ(header_field("X-Empty", "", "UTF-8"), "X-Empty: \r\n");
}

TEST(HeaderField, LongAsciiValueIsFoldedAtSpaces) {
    std::string value;
    for (int i = 0; i < 40; ++i) value += "word" + std::to_string(i) + " ";
    value.pop_back();
    std::string field = header_field("Subject", value, "UTF-8");
    expect_well_folded(field, "Subject");
    EXPECT_GT(crlf_lines(field).size(), 1u);
    // unfolding gives the value back
    std::string unfolded = field;
    for (size_t p; (p = unfolded.find("\r\n ")) != std::string::npos;) unfolded.erase(p, 2);
    EXPECT_EQ(unfolded, "Subject: " + value + "\r\n");
}

TEST(HeaderField, RunsOfSpacesNeverGiveWhiteSpaceOnlyLines) {
    // RFC 5322 3.2.2: a folded line must hold something besides white space (obs-FWS is
    // not to be generated), and such a line can look like the end of the header to a parser.
    std::string value = "a" + std::string(200, ' ') + "b";
    std::string field = header_field("Subject", value, "UTF-8");
    expect_well_folded(field, "Subject");
}

TEST(HeaderField, VeryLongTokenStaysUnder998) {
    std::string field = header_field("Subject", std::string(3000, 'x'), "UTF-8");
    for (const auto& line : crlf_lines(field)) EXPECT_LE(line.size(), 998u);
    auto lines = crlf_lines(field);
    for (size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(lines[i][0], ' ');
}

TEST(HeaderField, CrLfCannotStartANewHeader) {
    for (const std::string& value : std::vector<std::string>{"Hello\r\nBcc: victim@example.org", "Hello\nBcc: victim@example.org",
                                    "Hello\rBcc: victim@example.org", "\r\n\r\nbody injection",
                                    kNeko + "\r\nBcc: victim@example.org"}) {
        std::string field = header_field("Subject", value, "UTF-8");
        expect_well_folded(field, "Subject");
        for (const auto& line : crlf_lines(field)) {
            EXPECT_NE(line.rfind("Bcc:", 0), 0u) << field;
            EXPECT_FALSE(line.empty()) << field;
        }
    }
    std::string other = header_field("Subject", std::string("a\0b\x7f" "c", 5), "UTF-8");
    EXPECT_EQ(other.find('\0'), std::string::npos);
    EXPECT_EQ(other.find('\x7f'), std::string::npos);
}

TEST(HeaderField, NonAsciiBecomesUtf8EncodedWords) {
    std::string field = header_field("Subject", kNeko, "UTF-8");
    EXPECT_EQ(field, "Subject: =?UTF-8?B?54yr?=\r\n");
}

TEST(HeaderField, LongUtf8SubjectFoldsWithoutSplittingCharacters) {
    std::string value = repeat(kLongJapanese, 3);
    std::string field = header_field("Subject", value, "UTF-8");
    expect_well_folded(field, "Subject");
    EXPECT_GT(crlf_lines(field).size(), 3u);
    EXPECT_EQ(decode_utf8_words(field), value);
}

TEST(HeaderField, FourByteCharactersAreNeverSplit) {
    const std::string cat_face = "\xf0\x9f\x90\xb1";  // U+1F431
    for (int prefix = 0; prefix < 6; ++prefix) {
        std::string value = std::string(prefix, 'a') + repeat(cat_face + "\xc3\xa9", 30);
        std::string field = header_field("Subject", value, "UTF-8");
        expect_well_folded(field, "Subject");
        EXPECT_EQ(decode_utf8_words(field), value);
    }
}

TEST(HeaderField, Iso2022JpWordsAreSelfContained) {
    std::string value = repeat(kLongJapanese, 2);
    std::string field = header_field("Subject", value, "ISO-2022-JP");
    expect_well_folded(field, "Subject");
    EXPECT_GT(find_encoded_words(field).size(), 2u);
    EXPECT_EQ(decode_jis_words(field), value);
}

TEST(HeaderField, Iso2022JpMixedWithAscii) {
    std::string value = "Re: [neko-list 123] " + kLongJapanese + " (fwd) " + kLongJapanese;
    std::string field = header_field("Subject", value, "ISO-2022-JP");
    expect_well_folded(field, "Subject");
    EXPECT_EQ(decode_jis_words(field), value);
}

TEST(HeaderField, Latin1) {
    EXPECT_EQ(header_field("Subject", "caf\xc3\xa9", "ISO-8859-1"), "Subject: =?ISO-8859-1?B?Y2Fm6Q==?=\r\n");
}

TEST(HeaderField, CharsetThatCannotHoldTheTextFallsBackToUtf8) {
    std::string field = header_field("Subject", kNeko, "ISO-8859-1");
    EXPECT_EQ(field, "Subject: =?UTF-8?B?54yr?=\r\n");
    std::string ascii = header_field("Subject", "caf\xc3\xa9", "US-ASCII");
    EXPECT_NE(ascii.find("=?UTF-8?B?"), std::string::npos);
    EXPECT_EQ(decode_utf8_words(ascii), "caf\xc3\xa9");
}

TEST(HeaderField, LongHeaderNameStillWithinLimits) {
    std::string name = "X-A-Rather-Long-Header-Name-For-Testing-Folding";
    std::string field = header_field(name, repeat(kNeko, 40), "UTF-8");
    expect_well_folded(field, name);
    EXPECT_EQ(decode_utf8_words(field), repeat(kNeko, 40));
}

TEST(EncodedWords, BudgetsAreKept) {
    auto words = encoded_words(repeat(kNeko, 60), "UTF-8", 40);
    ASSERT_TRUE(words);
    ASSERT_GT(words->size(), 2u);
    EXPECT_LE((*words)[0].size(), 40u);
    std::string joined;
    for (const auto& w : *words) {
        EXPECT_LE(w.size(), 75u);
        EXPECT_EQ(w.rfind("=?UTF-8?B?", 0), 0u);
        EXPECT_EQ(w.substr(w.size() - 2), "?=");
        auto ew = find_encoded_words(w);
        ASSERT_EQ(ew.size(), 1u);
        EXPECT_TRUE(is_valid_utf8(ew[0].decoded));
        joined += ew[0].decoded;
    }
    EXPECT_EQ(joined, repeat(kNeko, 60));
}

TEST(EncodedWords, UnrepresentableIsNullopt) {
    EXPECT_FALSE(encoded_words(kNeko, "ISO-8859-1", 75));
    EXPECT_FALSE(encoded_words(kNeko, "US-ASCII", 75));
    EXPECT_FALSE(encoded_words("\xe2\x91\xa0", "ISO-2022-JP", 75));  // ① is not in JIS X 0208
    auto ok = encoded_words(kNeko, "ISO-2022-JP", 75);
    ASSERT_TRUE(ok);
    ASSERT_EQ(ok->size(), 1u);
    EXPECT_EQ((*ok)[0], "=?ISO-2022-JP?B?" + base64_encode("\x1b$BG-\x1b(B") + "?=");
}

TEST(AddressField, PlainAddressAndAngleAddress) {
    EXPECT_EQ(address_field("From", "user@example.org", "UTF-8"), "From: user@example.org\r\n");
    EXPECT_EQ(address_field("From", "<user@example.org>", "UTF-8"), "From: <user@example.org>\r\n");
    EXPECT_EQ(address_field("From", "Kijitora <user@example.org>", "UTF-8"),
              "From: Kijitora <user@example.org>\r\n");
}

TEST(AddressField, AsciiDisplayNameWithSpecialsIsQuoted) {
    EXPECT_EQ(address_field("From", "Cat, Kiji <kiji@example.org>", "UTF-8"),
              "From: \"Cat, Kiji\" <kiji@example.org>\r\n");
    EXPECT_EQ(address_field("From", "Dr. Neko <neko@example.org>", "UTF-8"),
              "From: \"Dr. Neko\" <neko@example.org>\r\n");
    EXPECT_EQ(address_field("From", "a@b <neko@example.org>", "UTF-8"),
              "From: \"a@b\" <neko@example.org>\r\n");
    EXPECT_EQ(address_field("From", "say \"hi\" (x) <neko@example.org>", "UTF-8"),
              "From: \"say \\\"hi\\\" (x)\" <neko@example.org>\r\n");
    // already quoted: left alone
    EXPECT_EQ(address_field("From", "\"Cat, Kiji\" <kiji@example.org>", "UTF-8"),
              "From: \"Cat, Kiji\" <kiji@example.org>\r\n");
}

TEST(AddressField, OnlyTheDisplayNameIsEncoded) {
    std::string field = address_field("From", kNeko + " <neko@example.jp>", "UTF-8");
    EXPECT_EQ(field, "From: =?UTF-8?B?54yr?= <neko@example.jp>\r\n");
    std::string jis = address_field("Reply-To", "\"" + kNeko + "\" <neko@example.jp>", "ISO-2022-JP");
    EXPECT_NE(jis.find(" <neko@example.jp>\r\n"), std::string::npos) << jis;
    EXPECT_EQ(decode_jis_words(jis), kNeko);
}

TEST(AddressField, LongNonAsciiDisplayNameFolds) {
    std::string display = repeat(kLongJapanese, 2);
    std::string field = address_field("From", display + " <neko@example.jp>", "ISO-2022-JP");
    expect_well_folded(field, "From");
    EXPECT_NE(field.find("<neko@example.jp>"), std::string::npos);
    EXPECT_EQ(field.find("=?", field.find("<neko@")), std::string::npos);
    EXPECT_EQ(decode_jis_words(field), display);
    std::string utf8 = address_field("From", display + " <neko@example.jp>", "UTF-8");
    expect_well_folded(utf8, "From");
    EXPECT_EQ(decode_utf8_words(utf8), display);
}

TEST(AddressField, CrLfInDisplayNameCannotInject) {
    for (const std::string& value : std::vector<std::string>{
             "Evil\r\nBcc: victim@example.org <a@example.org>", kNeko + "\r\nBcc: victim@example.org <a@example.org>",
          "a@example.org\r\nBcc: victim@example.org"}) {
        std::string field = address_field("From", value, "UTF-8");
        expect_well_folded(field, "From");
        for (const auto& line : crlf_lines(field)) EXPECT_NE(line.rfind("Bcc:", 0), 0u) << field;
    }
}

// Found by fuzzing: a trailing run of spaces was folded onto a continuation line of its
// own, which some readers take for the end of the header.
TEST(HeaderField, NoContinuationLineOfWhiteSpaceAlone) {
    for (const std::string& value : {std::string(68, 'x') + "  ", std::string(70, 'y') + " \x7f\x7f", "  lead " + std::string(80, 'z'),
                                     "\"Nekoj i ,i\" <n@example.or" + std::string(90, ' ') + "\t (the cat)\" <k@example.org>"}) {
        SCOPED_TRACE(value);
        std::string field = header_field("Subject", value, "UTF-8");
        for (const auto& line : haineko::test::crlf_lines(field))
            EXPECT_NE(line.find_first_not_of(" \t"), std::string::npos) << "a line of white space: " << field;
    }
}
