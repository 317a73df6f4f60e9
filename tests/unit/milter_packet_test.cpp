// The milter protocol's packets from the MTA side: the bytes of each command, the reader
// that cuts a filter's bytes into packets however they arrive, and every reply read.
#include <gtest/gtest.h>

#include "milter/packet.hpp"

using namespace haineko::milter;

namespace {

std::string raw(char command, std::string_view data) {
    const std::uint32_t n = static_cast<std::uint32_t>(data.size() + 1);
    std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                    static_cast<char>(n)};
    out += command;
    out.append(data);
    return out;
}

Reply reply_of(char command, std::string_view data) {
    std::string why;
    auto r = read_reply(Packet{command, std::string(data)}, &why);
    EXPECT_TRUE(r) << command << ": " << why;
    return r.value_or(Reply{});
}

bool refused(char command, std::string_view data) { return !read_reply(Packet{command, std::string(data)}); }

}  // namespace

TEST(MilterPacket, CommandsAsTheWireHasThem) {
    EXPECT_EQ(option_negotiation(0x1ff, 0), raw('O', std::string("\0\0\0\6\0\0\1\xff\0\0\0\0", 12)));
    EXPECT_EQ(connect("client.example", "192.0.2.1", 25), raw('C', std::string("client.example\0" "4\0\x19" "192.0.2.1\0", 28)));
    EXPECT_EQ(connect("h", "2001:db8::1", 587)[4 + 1 + 2], '6');
    EXPECT_EQ(mail("a@example.jp", {"SIZE=10"}), raw('M', std::string("<a@example.jp>\0SIZE=10\0", 23)));
    EXPECT_EQ(rcpt("", {}), raw('R', std::string("<>\0", 3)));
    EXPECT_EQ(header("Subject", "x"), raw('L', std::string("Subject\0x\0", 10)));
    EXPECT_EQ(macros('C', {{"j", "mx.example.jp"}, {"{daemon_name}", "haineko"}}),
              raw('D', std::string("Cj\0mx.example.jp\0{daemon_name}\0haineko\0", 39)));
    EXPECT_EQ(end_of_message(), raw('E', ""));
    EXPECT_EQ(body(std::string(70000, 'x')).size(), 4u + 1 + 65535);  // one chunk at most
    EXPECT_EQ(helo(std::string("a\0b", 3)), raw('H', std::string("a\0", 2)));  // a NUL ends a string
}

TEST(MilterPacket, ReaderTakesBytesInAnyPieces) {
    const std::string bytes = raw('c', "") + raw('h', std::string("X-A\0v\0", 6)) + raw('a', "");
    PacketReader whole;
    whole.feed(bytes);
    std::vector<char> kinds;
    while (auto p = whole.next()) kinds.push_back(p->command);
    EXPECT_EQ(kinds, (std::vector<char>{'c', 'h', 'a'}));
    PacketReader bytewise;
    std::vector<char> again;
    for (char c : bytes) {
        bytewise.feed(std::string_view(&c, 1));
        while (auto p = bytewise.next()) again.push_back(p->command);
    }
    EXPECT_EQ(again, kinds);
}

TEST(MilterPacket, ImpossibleLengthsAreRefused) {
    PacketReader zero;
    EXPECT_THROW(zero.feed(std::string("\0\0\0\0", 4)), ProtocolError);
    PacketReader huge;
    EXPECT_THROW(huge.feed(std::string("\x7f\0\0\0c", 5)), ProtocolError);
}

TEST(MilterPacket, RepliesRead) {
    Reply o = reply_of('O', std::string("\0\0\0\6\0\0\0\x1f\0\0\0\x10", 12));
    EXPECT_EQ(o.version, 6u);
    EXPECT_EQ(o.actions, 0x1fu);
    EXPECT_EQ(o.protocol, 0x10u);
    Reply y = reply_of('y', std::string("550 5.7.1 Command rejected\0", 27));
    EXPECT_EQ(y.code, 550);
    EXPECT_EQ(y.dsn, "5.7.1");
    EXPECT_EQ(y.text, "Command rejected");
    Reply bare = reply_of('y', std::string("451 Try later\0", 14));
    EXPECT_EQ(bare.code, 451);
    EXPECT_EQ(bare.dsn, "");
    EXPECT_EQ(bare.text, "Try later");
    Reply m = reply_of('m', std::string("\0\0\0\2Subject\0\0", 13));
    EXPECT_EQ(m.index, 2u);
    EXPECT_EQ(m.name, "Subject");
    EXPECT_EQ(m.text, "");  // deletes that header
    EXPECT_EQ(reply_of('+', std::string("<new@example.jp>\0", 17)).text, "<new@example.jp>");
    EXPECT_EQ(reply_of('b', "new body").bytes, "new body");
    EXPECT_EQ(reply_of('q', std::string("spam\0", 5)).text, "spam");
    EXPECT_EQ(reply_of('2', std::string("<a@example.jp>\0NOTIFY=NEVER\0", 28)).args, "NOTIFY=NEVER");
}

TEST(MilterPacket, BrokenRepliesAreRefused) {
    EXPECT_TRUE(refused('y', std::string("250 Ok\0", 7)));  // a filter cannot accept with a reply code
    EXPECT_TRUE(refused('y', "550 no NUL"));
    EXPECT_TRUE(refused('c', "extra"));
    EXPECT_TRUE(refused('h', std::string("\0v\0", 3)));  // no name
    EXPECT_TRUE(refused('i', std::string("\0\0", 2)));
    EXPECT_TRUE(refused('O', "short"));
    EXPECT_TRUE(refused('Z', ""));
}

#include "milter/changes.hpp"

namespace {

Reply change(char kind, std::string name, std::string text, std::uint32_t index = 0) {
    Reply r;
    r.kind = kind;
    r.name = std::move(name);
    r.text = std::move(text);
    r.index = index;
    return r;
}

}  // namespace

TEST(MilterChanges, HeadersAsLibmilterCountsThem) {
    Editable e = editable("Subject: a\r\nX-Tag: 1\r\nx-tag: 2\r\n folded\r\n\r\nbody\r\n", "s@example.jp",
                          {"r@example.jp"});
    ASSERT_EQ(e.headers.size(), 3u);
    EXPECT_EQ(e.headers[2].value, "2\r\n folded");
    EXPECT_TRUE(apply(change('i', "DKIM-Signature", "v=1;\n\tb=abc", 0), e));  // index 0: the top
    EXPECT_TRUE(apply(change('m', "X-TAG", "two", 2), e));                    // the second of that name
    EXPECT_TRUE(apply(change('m', "Subject", "", 1), e));                     // empty: deleted
    EXPECT_TRUE(apply(change('h', "X-Spam", "no"), e));
    EXPECT_FALSE(apply(change('h', "Bad Name", "x"), e));
    EXPECT_EQ(message_of(e),
              "DKIM-Signature: v=1;\r\n\tb=abc\r\nX-Tag: 1\r\nx-tag: two\r\nX-Spam: no\r\n\r\nbody\r\n");
}

TEST(MilterChanges, BodyAndEnvelope) {
    Editable e = editable("Subject: a\r\n\r\nold\r\n", "s@example.jp", {"a@example.jp", "b@example.jp"});
    Reply b1;
    b1.kind = 'b';
    b1.bytes = "new\nli";
    Reply b2 = b1;
    b2.bytes = "ne\n";
    EXPECT_TRUE(apply(b1, e));
    EXPECT_TRUE(apply(b2, e));
    EXPECT_TRUE(apply(change('+', "", "<c@example.jp>"), e));
    EXPECT_TRUE(apply(change('+', "", "<A@example.jp>"), e));  // already there
    EXPECT_TRUE(apply(change('-', "", "<B@example.jp>"), e));
    EXPECT_TRUE(apply(change('e', "", "<bounce@example.jp>"), e));
    EXPECT_EQ(e.rcpts, (std::vector<std::string>{"a@example.jp", "c@example.jp"}));
    EXPECT_EQ(e.sender, "bounce@example.jp");
    EXPECT_EQ(message_of(e), "Subject: a\r\n\r\nnew\r\nline\r\n");
    EXPECT_FALSE(apply(change('c', "", ""), e));
}

TEST(MilterChanges, TheNextFilterReplacesRatherThanAppends) {
    Editable e = editable("Subject: a\r\n\r\nold\r\n", "s@example.jp", {"a@example.jp"});
    EXPECT_FALSE(e.changed);
    Reply b;
    b.kind = 'b';
    b.bytes = "first\n";
    EXPECT_TRUE(apply(b, e));
    EXPECT_TRUE(e.changed);
    next_filter(e);
    EXPECT_EQ(e.body, "first\r\n");  // the last filter's body, CRLF, as the next one sees it
    b.bytes = "second\r\n";
    EXPECT_TRUE(apply(b, e));
    EXPECT_EQ(message_of(e), "Subject: a\r\n\r\nsecond\r\n");
    Editable untouched = editable("Subject: b\r\n\r\nx\r\n", "", {});
    EXPECT_FALSE(apply(change('q', "", "x"), untouched));
    EXPECT_FALSE(untouched.changed);
}
