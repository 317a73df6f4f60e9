// The milter protocol's packets (version 6, as Sendmail's libmilter and Postfix's
// milter8.c speak it), from the MTA side: the commands we send, and the replies a filter
// sends, read from the bytes as they arrive. Each packet is a 32-bit length in network
// order (the command byte included), a command byte and its data. Pure functions and one
// incremental reader; no I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace haineko::milter {

constexpr std::uint32_t kVersion = 6;
// The most a reply may hold: a replaced body comes in pieces of at most 64 KB, or 1 MB
// when SMFIP_MDS_1M was agreed; headers and reply texts are far smaller.
constexpr std::size_t kMaxPacket = (1u << 20) + 64;

// Actions a filter may ask for (SMFIF_*), offered in option negotiation.
enum Action : std::uint32_t {
    add_headers = 0x01, change_body = 0x02, add_rcpt = 0x04, delete_rcpt = 0x08, change_headers = 0x10,
    quarantine = 0x20, change_from = 0x40, add_rcpt_with_args = 0x80, set_macro_list = 0x100,
};

// Protocol steps a filter may decline or not answer (SMFIP_*).
enum Protocol : std::uint32_t {
    no_connect = 0x01, no_helo = 0x02, no_mail = 0x04, no_rcpt = 0x08, no_body = 0x10, no_headers = 0x20,
    no_eoh = 0x40, no_reply_header = 0x80, no_unknown = 0x100, no_data = 0x200, skip = 0x400,
    rcpt_rejected = 0x800, no_reply_connect = 0x1000, no_reply_helo = 0x2000, no_reply_mail = 0x4000,
    no_reply_rcpt = 0x8000, no_reply_data = 0x10000, no_reply_unknown = 0x20000, no_reply_eoh = 0x40000,
    no_reply_body = 0x80000, header_leading_space = 0x100000, max_data_256k = 0x10000000,
    max_data_1m = 0x20000000,
};

struct Packet {
    char command = 0;
    std::string data;
};

// Commands to the filter (SMFIC_*). Strings may not hold NUL (a NUL ends them on the wire).
std::string option_negotiation(std::uint32_t actions, std::uint32_t protocol);  // 'O'
std::string macros(char for_command, const std::vector<std::pair<std::string, std::string>>& pairs);  // 'D'
std::string connect(const std::string& hostname, const std::string& address, std::uint16_t port);  // 'C'
std::string helo(const std::string& name);                                             // 'H'
std::string mail(const std::string& sender, const std::vector<std::string>& args);     // 'M', the address without <> (they are added)
std::string rcpt(const std::string& recipient, const std::vector<std::string>& args);  // 'R'
std::string data();                                                                    // 'T'
std::string header(const std::string& name, const std::string& value);                 // 'L'
std::string end_of_headers();                                                          // 'N'
std::string body(std::string_view chunk);                                              // 'B', at most 65535 octets
std::string end_of_message();                                                          // 'E'
std::string abort();                                                                   // 'A'
std::string quit();                                                                    // 'Q'

// Bytes from the filter, as they come, cut into packets. A length of 0 or past
// kMaxPacket is a broken peer: feed() throws ProtocolError.
class ProtocolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class PacketReader {
public:
    void feed(std::string_view bytes);
    std::optional<Packet> next();

private:
    std::string buffer_;
    std::size_t start_ = 0;
};

// A reply packet, read. kind is the command byte: 'O' negotiation (version, actions,
// protocol), 'c' continue, 'a' accept, 'r' reject, 't' tempfail, 'd' discard,
// 'y' replycode (code, dsn, text), 'q' quarantine (text), 'h' add header, 'i' insert
// header (index), 'm' change header (index; an empty value deletes), 'b' replace body
// (bytes), '+' add recipient, '2' add recipient with args, '-' delete recipient,
// 'e' change sender, 'p' progress, 's' skip, 'f' connection failure.
struct Reply {
    char kind = 0;
    std::uint32_t version = 0, actions = 0, protocol = 0;  // 'O'
    int code = 0;                                          // 'y'
    std::string dsn;                                       // 'y', may be empty
    std::string text;        // 'y' the text; 'q' the reason; header value; recipient or sender
    std::string name;        // a header's name
    std::uint32_t index = 0; // 'i', 'm'
    std::string args;        // '2', 'e'
    std::string bytes;       // 'b'
};

// nullopt with why for a packet that is not a well-formed reply.
std::optional<Reply> read_reply(const Packet& packet, std::string* why = nullptr);

}  // namespace haineko::milter
