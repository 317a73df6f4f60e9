// The MIME reader against the builder's own output (every structure, charsets, RFC 2231
// names) and against MIME a client could send (bare LFs, continuations, unknown parts).
#include <gtest/gtest.h>

#include "message/mime.hpp"
#include "message/mime_reader.hpp"

using namespace haineko;

namespace {

ReadMessage round_trip(const MimeContent& c) {
    const MimeEntity m = build_mime(c, "seed");
    return read_message("From: a@example.jp\r\nReply-To: Tama <tama@example.jp>\r\nMIME-Version: 1.0\r\n" + m.header +
                        "\r\n" + m.body);
}

}  // namespace

TEST(MimeReader, ReadsBackEveryStructureTheBuilderMakes) {
    MimeContent c;
    c.text = "Hello, neko = cat\nsecond line\n";
    c.html = "<p>吾輩は猫である</p>\n";
    c.attachments = {Attachment{"logo.png", "image/png", std::string("\x89PNG\r\n\x1a\n\0binary", 16), "logo"},
                     Attachment{"請求書.pdf", "application/pdf", "%PDF-1.4 bytes", ""}};
    const ReadMessage r = round_trip(c);
    EXPECT_EQ(r.content.text, c.text);
    EXPECT_EQ(r.content.html, c.html);
    EXPECT_EQ(r.reply_to, "Tama <tama@example.jp>");
    ASSERT_EQ(r.content.attachments.size(), 2u);
    const Attachment& logo = r.content.attachments[0];
    EXPECT_EQ(logo.filename, "logo.png");
    EXPECT_EQ(logo.content_type, "image/png");
    EXPECT_EQ(logo.content_id, "logo");
    EXPECT_EQ(logo.content, c.attachments[0].content);
    EXPECT_EQ(r.content.attachments[1].filename, "請求書.pdf");  // RFC 2231
    EXPECT_EQ(r.content.attachments[1].content, "%PDF-1.4 bytes");
    EXPECT_TRUE(r.content.attachments[1].content_id.empty());
}

TEST(MimeReader, TextInAnotherCharsetComesBackAsUtf8) {
    MimeContent c;
    c.text = "吾輩は猫である。名前はまだ無い。\n";
    c.charset = "ISO-2022-JP";
    EXPECT_EQ(round_trip(c).content.text, c.text);
}

TEST(MimeReader, AcceptsWhatAClientMaySend) {
    const std::string message =
        "Subject: x\n"
        "Content-Type: multipart/mixed;\n boundary=\"b1\"\n"
        "\n"
        "preamble\n"
        "--b1\n"
        "Content-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "caf=E9 au lait=\n"
        " soft break\n"
        "--b1\n"
        "Content-Type: application/x-thing\n"
        "Content-Disposition: attachment;\n filename*0*=UTF-8''%E7%8C%AB;\n filename*1=\".txt\"\n"
        "\n"
        "raw\n"
        "--b1--\n"
        "epilogue\n";
    const ReadMessage r = read_message(message);
    EXPECT_EQ(r.content.text, "café au lait soft break");
    EXPECT_FALSE(r.content.html);
    ASSERT_EQ(r.content.attachments.size(), 1u);
    EXPECT_EQ(r.content.attachments[0].filename, "猫.txt");
    EXPECT_EQ(r.content.attachments[0].content, "raw");
}

TEST(MimeReader, APlainMessageIsItsText) {
    EXPECT_EQ(read_message("Subject: x\r\n\r\nbody\r\n").content.text, "body\n");
    EXPECT_EQ(read_message("").content.text, "");
    // A multipart with no boundary, or nested past the limit, is not followed.
    const ReadMessage r = read_message("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n");
    EXPECT_FALSE(r.content.text);
    EXPECT_EQ(r.content.attachments.size(), 1u);
}

TEST(MimeReader, QuotedPrintable) {
    EXPECT_EQ(decode_quoted_printable("a=3Db=\r\nc=ZZ=4"), "a=bc=ZZ=4");
}
