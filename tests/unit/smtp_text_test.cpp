#include <gtest/gtest.h>

#include "message/encoding.hpp"
#include "relay/smtp/smtp_text.hpp"

using namespace haineko;
using namespace haineko::smtp;

namespace {

// Feeds text to a parser in pieces of `step` bytes and collects every reply.
std::vector<RawReply> replies_of(const std::string& text, std::size_t step) {
    ReplyParser parser;
    std::vector<RawReply> out;
    for (std::size_t i = 0; i < text.size(); i += step) {
        parser.feed(std::string_view(text).substr(i, step));
        while (auto r = parser.next()) out.push_back(std::move(*r));
    }
    return out;
}

}  // namespace

TEST(ReplyParser, RepliesInAnyPieces) {
    const std::string wire = "250-smtp.example.net\r\n250-PIPELINING\r\n250 SIZE 1000\r\n354 go ahead\n221 bye\r\n";
    for (std::size_t step : {1u, 2u, 7u, 1000u}) {
        SCOPED_TRACE(step);
        auto replies = replies_of(wire, step);
        ASSERT_EQ(replies.size(), 3u);
        EXPECT_EQ(replies[0].code, 250);
        EXPECT_EQ(replies[0].lines, (std::vector<std::string>{"250-smtp.example.net", "250-PIPELINING", "250 SIZE 1000"}));
        EXPECT_EQ(replies[1].code, 354);
        EXPECT_EQ(replies[1].lines, std::vector<std::string>{"354 go ahead"});
        EXPECT_EQ(replies[2].code, 221);
    }
}

TEST(ReplyParser, ProtocolErrors) {
    for (const char* bad : {"hello\r\n", "25 x\r\n", "2500 x\r\n", "250-a\r\n354 b\r\n"}) {
        SCOPED_TRACE(bad);
        ReplyParser p;
        p.feed(bad);
        EXPECT_THROW({ while (p.next()) {} }, std::runtime_error);
    }
    ReplyParser long_line;
    long_line.feed(std::string(ReplyParser::kMaxReplyLine + 1, '2'));
    EXPECT_THROW(long_line.next(), std::runtime_error);
    std::string many;
    for (std::size_t i = 0; i < ReplyParser::kMaxReplyLines; ++i) many += "250-x\r\n";
    ReplyParser too_many;
    too_many.feed(many);
    EXPECT_THROW({ while (too_many.next()) {} }, std::runtime_error);
}

TEST(ReplyParser, Kinds) {
    RawReply r;
    r.code = 250;
    EXPECT_TRUE(r.is_2xx() && r.positive());
    r.code = 354;
    EXPECT_TRUE(!r.is_2xx() && r.positive());
    r.code = 451;
    EXPECT_FALSE(r.positive());
}

TEST(DotStuffed, LinesStartingWithADot) {
    EXPECT_EQ(dot_stuffed(".a\r\nb\r\n..c\r\n"), "..a\r\nb\r\n...c\r\n.\r\n");
    EXPECT_EQ(dot_stuffed("no end"), "no end\r\n.\r\n");
    EXPECT_EQ(dot_stuffed(""), ".\r\n");
    EXPECT_EQ(dot_stuffed(".\r\n"), "..\r\n.\r\n");
}

TEST(NormalizeCrlf, SameWithAndWithoutCarriageReturns) {
    // The LF-only path and the general one must agree.
    EXPECT_EQ(normalize_crlf("a\nb\n"), "a\r\nb\r\n");
    EXPECT_EQ(normalize_crlf("a\nb\r"), "a\r\nb\r\n");
    EXPECT_EQ(normalize_crlf("a\n\nb"), "a\r\n\r\nb\r\n");
    EXPECT_EQ(normalize_crlf("\n"), "\r\n");
    EXPECT_EQ(normalize_crlf("a\r\r\nb"), "a\r\n\r\nb\r\n");
}
