#include <gtest/gtest.h>

#include "message/mime.hpp"
#include "test_support.hpp"

using namespace haineko;
using namespace haineko::test;

namespace {

int count(const std::string& haystack, const std::string& needle) {
    int n = 0;
    for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
    return n;
}

Attachment file(const char* name, const char* cid = "") { return Attachment{name, "application/pdf", "%PDF-1.4 bytes", cid}; }

}  // namespace

TEST(Mime, TextAloneIsOneQuotedPrintablePart) {
    MimeContent c;
    c.text = "Hello, neko = cat\n";
    const auto m = build_mime(c, "id1");
    EXPECT_EQ(m.header, "Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n");
    EXPECT_EQ(m.body, "Hello, neko =3D cat\r\n");
}

TEST(Mime, MostlyNonAsciiTextGoesAsBase64) {
    MimeContent c;
    c.text = "吾輩は猫である。名前はまだ無い。";
    const auto m = build_mime(c, "id1");
    EXPECT_NE(m.header.find("base64"), std::string::npos);
    MimeContent j = c;
    j.charset = "iso-2022-jp";
    EXPECT_NE(build_mime(j, "id1").header.find("charset=\"ISO-2022-JP\""), std::string::npos);
}

TEST(Mime, TextAndHtmlAreAlternatives) {
    MimeContent c;
    c.text = "plain";
    c.html = "<p>html</p>";
    const auto m = build_mime(c, "id1");
    EXPECT_NE(m.header.find("multipart/alternative"), std::string::npos);
    const auto plain = m.body.find("text/plain"), html = m.body.find("text/html");
    ASSERT_NE(plain, std::string::npos);
    EXPECT_LT(plain, html);  // the richest last (RFC 2046 5.1.4)
    EXPECT_EQ(count(m.body, "--=_haineko_alt_id1--\r\n"), 1);
}

TEST(Mime, InlineImagesAreRelatedToTheHtmlAndFilesAreMixed) {
    MimeContent c;
    c.text = "plain";
    c.html = "<img src=\"cid:logo\">";
    c.attachments = {file("logo.png", "logo"), file("a.pdf")};
    const auto m = build_mime(c, "id1");
    EXPECT_NE(m.header.find("multipart/mixed"), std::string::npos);
    const auto related = m.body.find("multipart/related"), alt = m.body.find("multipart/alternative");
    ASSERT_NE(related, std::string::npos);
    EXPECT_LT(related, alt);
    EXPECT_NE(m.body.find("Content-Disposition: inline;\r\n filename=\"logo.png\"\r\nContent-ID: <logo>\r\n"),
              std::string::npos);
    EXPECT_NE(m.body.find("Content-Disposition: attachment;\r\n filename=\"a.pdf\"\r\n"), std::string::npos);
    EXPECT_NE(m.body.find("JVBERi0xLjQgYnl0ZXM="), std::string::npos);  // the bytes, base64
}

TEST(Mime, NonAsciiFileNamesUseRfc2231) {
    MimeContent c;
    c.text = "x";
    c.attachments = {file("請求書 \"1\".pdf")};
    const auto m = build_mime(c, "id1");
    EXPECT_NE(m.body.find("filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8%20%221%22.pdf"), std::string::npos);
    MimeContent q;
    q.text = "x";
    q.attachments = {file("a \"b\".pdf")};
    EXPECT_NE(build_mime(q, "id1").body.find("filename=\"a \\\"b\\\".pdf\""), std::string::npos);
}

TEST(Mime, LinesStayWithinLimits) {
    MimeContent c;
    c.text = std::string(5000, 'a') + "\n" + std::string(3000, 'b');
    c.html = "<p>" + std::string(4000, 'x') + "</p>";
    c.attachments = {file(std::string(300, 'n').c_str())};
    const auto m = build_mime(c, std::string(64, 's'));
    for (const auto& line : crlf_lines(m.header + m.body)) EXPECT_LE(line.size(), 998u);
}

TEST(Mime, MediaTypes) {
    EXPECT_TRUE(is_media_type("application/pdf"));
    EXPECT_TRUE(is_media_type("image/svg+xml"));
    EXPECT_FALSE(is_media_type("application"));
    EXPECT_FALSE(is_media_type("text/plain; charset=x"));
    EXPECT_FALSE(is_media_type("a/b\r\nX: y"));
    EXPECT_FALSE(is_media_type("/x"));
}
