// What a milter (a filter we do not control) sends back, read by the MTA side: the bytes
// cut into packets by PacketReader, whole and in pieces, and every packet through
// read_reply. Nothing may escape but ProtocolError; the packets and replies must not
// depend on how the bytes arrive; a reply code is 4xx or 5xx with an enhanced code of its
// class when it has one; header changes have a name. The replies that change a message
// are applied to one (milter/changes): the result has CRLF line ends only and every header
// line is a field or a continuation; and any bytes read as a message and written again
// read back to the same fields.
#include <cstdint>

#include "fuzz_support.hpp"
#include "milter/changes.hpp"
#include "milter/packet.hpp"

using namespace haineko::milter;

namespace {

struct Read {
    std::vector<Packet> packets;
    bool broken = false;
};

Read read_all(std::string_view bytes, std::size_t piece) {
    Read out;
    PacketReader reader;
    try {
        for (std::size_t pos = 0; pos < bytes.size(); pos += piece) {
            reader.feed(bytes.substr(pos, std::min(piece, bytes.size() - pos)));
            while (auto p = reader.next()) out.packets.push_back(std::move(*p));
        }
    } catch (const ProtocolError&) {
        out.broken = true;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view bytes = haineko::fuzz::as_text(data + 1, size - 1);
    const Read whole = read_all(bytes, bytes.size() + 1);
    const Read pieces = read_all(bytes, 1 + data[0] % 17);
    FUZZ_CHECK(whole.broken == pieces.broken, "a broken stream depends on how the bytes arrive");
    // A stream found broken in pieces may have yielded fewer packets before the break.
    if (!whole.broken) FUZZ_CHECK(whole.packets.size() == pieces.packets.size(), "packets depend on how bytes arrive");
    for (std::size_t i = 0; i < std::min(whole.packets.size(), pieces.packets.size()); ++i)
        FUZZ_CHECK(whole.packets[i].command == pieces.packets[i].command &&
                       whole.packets[i].data == pieces.packets[i].data,
                   "a packet depends on how the bytes arrive");
    Editable e = editable("Subject: a\r\nX-A: 1\r\n\r\nbody\r\n", "s@example.jp", {"r@example.jp"});
    for (const auto& p : whole.packets) {
        FUZZ_CHECK(p.data.size() + 1 <= kMaxPacket, "a packet past the limit");
        std::string why;
        auto r = read_reply(p, &why);
        if (!r) {
            FUZZ_CHECK(!why.empty(), "a refused reply without a reason");
            continue;
        }
        FUZZ_CHECK(r->kind == p.command, "a reply of another kind");
        if (r->kind == 'y') {
            FUZZ_CHECK(r->code >= 400 && r->code <= 599, "a milter reply code outside 4xx and 5xx");
            FUZZ_CHECK(r->dsn.empty() || r->dsn[0] == static_cast<char>('0' + r->code / 100),
                       "an enhanced code of another class");
        }
        if (r->kind == 'h' || r->kind == 'i' || r->kind == 'm') FUZZ_CHECK(!r->name.empty(), "a header without a name");
        if (r->kind == '+' || r->kind == '-' || r->kind == '2' || r->kind == 'e')
            FUZZ_CHECK(!r->text.empty(), "an address change without an address");
        (void)apply(*r, e);
    }
    const std::string changed = message_of(e);
    for (std::size_t i = 0; i < changed.size(); ++i) {
        if (changed[i] == '\n') FUZZ_CHECK(i > 0 && changed[i - 1] == '\r', "a bare LF in a changed message");
        if (changed[i] == '\r') FUZZ_CHECK(i + 1 < changed.size() && changed[i + 1] == '\n', "a bare CR in a changed message");
    }
    const Editable again = editable(changed, e.sender, e.rcpts);
    FUZZ_CHECK(again.headers.size() == e.headers.size(), "a changed header became other fields");
    for (std::size_t i = 0; i < e.headers.size(); ++i)
        FUZZ_CHECK(again.headers[i].name == e.headers[i].name, "a changed header's name moved");
    const Editable read = editable(bytes, "", {});
    const Editable reread = editable(message_of(read), "", {});
    FUZZ_CHECK(reread.headers.size() == read.headers.size() && reread.body == read.body,
               "a message read and written reads back otherwise");
    return 0;
}
