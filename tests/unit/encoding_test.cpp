#include <gtest/gtest.h>

#include "message/encoding.hpp"
#include "core/base64.hpp"
#include "test_support.hpp"

using namespace haineko;
using namespace haineko::test;

namespace {

// Decodes quoted-printable, for round trips.
std::string qp_decode(const std::string& in) {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '=') {
            if (in.compare(i + 1, 2, "\r\n") == 0) {
                i += 2;
                continue;
            }
            out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += in[i];
        }
    }
    return out;
}

}  // namespace

TEST(NormalizeCrlf, EveryLineEndingBecomesCrlf) {
    EXPECT_EQ(normalize_crlf("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd\r\n");
    EXPECT_EQ(normalize_crlf("a\r\n"), "a\r\n");
    EXPECT_EQ(normalize_crlf("a\n\nb"), "a\r\n\r\nb\r\n");
    EXPECT_EQ(normalize_crlf("a\r\rb"), "a\r\n\r\nb\r\n");
    EXPECT_EQ(normalize_crlf("a\n\r"), "a\r\n\r\n");
    EXPECT_EQ(normalize_crlf(""), "\r\n");
    EXPECT_EQ(normalize_crlf("no newline"), "no newline\r\n");
}

TEST(Base64Body, LinesOf76) {
    std::string data;
    for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
    std::string body = base64_body(data);
    auto lines = crlf_lines(body);
    ASSERT_FALSE(lines.empty());
    for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].size(), 76u);
    EXPECT_LE(lines.back().size(), 76u);
    EXPECT_EQ(body.substr(body.size() - 2), "\r\n");
    EXPECT_EQ(base64_decode(body).value_or("?"), data);
    EXPECT_EQ(base64_body("foo"), "Zm9v\r\n");
    // exactly 57 bytes make one full line
    EXPECT_EQ(crlf_lines(base64_body(std::string(57, 'x'))).size(), 1u);
    EXPECT_EQ(crlf_lines(base64_body(std::string(58, 'x'))).size(), 2u);
}

TEST(QuotedPrintable, EqualsSignAndEightBit) {
    EXPECT_EQ(quoted_printable("a=b\r\n"), "a=3Db\r\n");
    EXPECT_EQ(quoted_printable("caf\xe9\r\n"), "caf=E9\r\n");
    EXPECT_EQ(quoted_printable("plain text\r\n"), "plain text\r\n");
}

TEST(QuotedPrintable, TrailingWhiteSpaceIsEncoded) {
    EXPECT_EQ(quoted_printable("end \r\n"), "end=20\r\n");
    EXPECT_EQ(quoted_printable("end\t\r\n"), "end=09\r\n");
    EXPECT_EQ(quoted_printable("a b\r\nc \r\n"), "a b\r\nc=20\r\n");
    EXPECT_EQ(quoted_printable("x "), "x=20");
}

TEST(QuotedPrintable, SoftBreaksKeepLinesAt76) {
    std::string line;
    for (int i = 0; i < 300; ++i) line += (i % 5 == 0) ? "\xe9" : (i % 7 == 0 ? "=" : "a");
    std::string text = line + "\r\n" + std::string(200, 'b') + " \r\n";
    std::string qp = quoted_printable(text);
    for (const auto& l : crlf_lines(qp)) {
        EXPECT_LE(l.size(), 76u) << l;
        // an escape is never cut by a soft break
        size_t eq = l.rfind('=');
        if (eq != std::string::npos) {
            EXPECT_TRUE(eq + 1 == l.size() || eq + 3 <= l.size()) << l;
        }
        for (unsigned char c : l) EXPECT_LT(c, 0x80u);
    }
    EXPECT_EQ(qp_decode(qp), text);
}

TEST(QuotedPrintable, RoundTripsAllBytes) {
    std::string text;
    for (int i = 0; i < 256; ++i)
        if (i != '\r' && i != '\n') text += static_cast<char>(i);
    text += "\r\n";
    std::string qp = quoted_printable(text);
    EXPECT_EQ(qp_decode(qp), text);
    for (const auto& l : crlf_lines(qp)) EXPECT_LE(l.size(), 76u);
}

TEST(LongestLine, Counts) {
    EXPECT_EQ(longest_line(""), 0u);
    EXPECT_EQ(longest_line("abc"), 3u);
    EXPECT_EQ(longest_line("a\r\nabcd\r\nab\r\n"), 4u);
    EXPECT_EQ(longest_line("\r\n\r\n"), 0u);
    EXPECT_EQ(longest_line(std::string(999, 'x') + "\r\nshort\r\n"), 999u);
    EXPECT_EQ(longest_line("short\r\n" + std::string(1000, 'x')), 1000u);
}
