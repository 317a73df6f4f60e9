#include "milter/packet.hpp"

#include <cctype>

namespace haineko::milter {

namespace {

void put32(std::string& out, std::uint32_t v) {
    out += static_cast<char>((v >> 24) & 0xff);
    out += static_cast<char>((v >> 16) & 0xff);
    out += static_cast<char>((v >> 8) & 0xff);
    out += static_cast<char>(v & 0xff);
}

std::uint32_t get32(std::string_view s, std::size_t at) {
    auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
    return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

// A string as the protocol carries it: up to a NUL, which it adds. A NUL inside would
// end it early on the wire, so it stops there here too.
void put_string(std::string& out, std::string_view s) {
    out.append(s.substr(0, s.find('\0')));
    out += '\0';
}

std::string packet(char command, std::string_view data) {
    std::string out;
    out.reserve(5 + data.size());
    put32(out, static_cast<std::uint32_t>(data.size() + 1));
    out += command;
    out.append(data);
    return out;
}

// The NUL-terminated strings that make up a reply's data, in order; nullopt when the last
// is not terminated.
std::optional<std::vector<std::string_view>> strings_in(std::string_view data) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos < data.size()) {
        const std::size_t nul = data.find('\0', pos);
        if (nul == std::string_view::npos) return std::nullopt;
        out.push_back(data.substr(pos, nul - pos));
        pos = nul + 1;
    }
    return out;
}

bool fail(std::string* why, const char* text) {
    if (why) *why = text;
    return false;
}

std::optional<Reply> none(std::string* why, const char* text) {
    fail(why, text);
    return std::nullopt;
}

// "550 5.7.1 text": a 4xx or 5xx code, then an enhanced code of the same class when there
// is one, then the text.
bool read_replycode(std::string_view s, Reply& r, std::string* why) {
    if (s.size() < 3 || (s[0] != '4' && s[0] != '5') || !std::isdigit(static_cast<unsigned char>(s[1])) ||
        !std::isdigit(static_cast<unsigned char>(s[2])))
        return fail(why, "a reply code that is not 4xx or 5xx");
    if (s.size() > 3 && s[3] != ' ' && s[3] != '-') return fail(why, "a reply code without a space after it");
    r.code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    std::string_view rest = s.size() > 4 ? s.substr(4) : std::string_view();
    const std::size_t space = rest.find(' ');
    const std::string_view first = rest.substr(0, space);
    const bool enhanced = first.size() >= 5 && first[0] == s[0] && first[1] == '.' &&
                          first.find_first_not_of("0123456789.") == std::string_view::npos;
    if (enhanced) {
        r.dsn = std::string(first);
        rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    }
    r.text = std::string(rest);
    return true;
}

}  // namespace

std::string option_negotiation(std::uint32_t actions, std::uint32_t protocol) {
    std::string data;
    put32(data, kVersion);
    put32(data, actions);
    put32(data, protocol);
    return packet('O', data);
}

std::string macros(char for_command, const std::vector<std::pair<std::string, std::string>>& pairs) {
    std::string data(1, for_command);
    for (const auto& [name, value] : pairs) {
        put_string(data, name);
        put_string(data, value);
    }
    return packet('D', data);
}

std::string connect(const std::string& hostname, const std::string& address, std::uint16_t port) {
    std::string data;
    put_string(data, hostname);
    data += address.find(':') == std::string::npos ? '4' : '6';
    data += static_cast<char>(port >> 8);
    data += static_cast<char>(port & 0xff);
    put_string(data, address);
    return packet('C', data);
}

std::string helo(const std::string& name) {
    std::string data;
    put_string(data, name);
    return packet('H', data);
}

namespace {
std::string envelope_command(char command, const std::string& address, const std::vector<std::string>& args) {
    std::string data;
    put_string(data, "<" + address + ">");
    for (const auto& a : args) put_string(data, a);
    return packet(command, data);
}
}  // namespace

std::string mail(const std::string& sender, const std::vector<std::string>& args) {
    return envelope_command('M', sender, args);
}

std::string rcpt(const std::string& recipient, const std::vector<std::string>& args) {
    return envelope_command('R', recipient, args);
}

std::string data() { return packet('T', ""); }

std::string header(const std::string& name, const std::string& value) {
    std::string data;
    put_string(data, name);
    put_string(data, value);
    return packet('L', data);
}

std::string end_of_headers() { return packet('N', ""); }
std::string body(std::string_view chunk) { return packet('B', chunk.substr(0, 65535)); }
std::string end_of_message() { return packet('E', ""); }
std::string abort() { return packet('A', ""); }
std::string quit() { return packet('Q', ""); }

void PacketReader::feed(std::string_view bytes) {
    if (start_ > 0 && start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
    }
    buffer_.append(bytes);
    // A length that cannot be right is refused as soon as it is known.
    if (buffer_.size() - start_ >= 4) {
        const std::uint32_t length = get32(buffer_, start_);
        if (length == 0 || length > kMaxPacket) throw ProtocolError("a milter packet of length " + std::to_string(length));
    }
}

std::optional<Packet> PacketReader::next() {
    if (buffer_.size() - start_ < 4) return std::nullopt;
    const std::uint32_t length = get32(buffer_, start_);
    if (length == 0 || length > kMaxPacket) throw ProtocolError("a milter packet of length " + std::to_string(length));
    if (buffer_.size() - start_ - 4 < length) return std::nullopt;
    Packet p;
    p.command = buffer_[start_ + 4];
    p.data = buffer_.substr(start_ + 5, length - 1);
    start_ += 4 + length;
    if (start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
    } else if (start_ > (1u << 16)) {
        buffer_.erase(0, start_);
        start_ = 0;
    }
    // The next packet's length, if it is already here, is checked now too.
    if (buffer_.size() - start_ >= 4) {
        const std::uint32_t following = get32(buffer_, start_);
        if (following == 0 || following > kMaxPacket)
            throw ProtocolError("a milter packet of length " + std::to_string(following));
    }
    return p;
}

std::optional<Reply> read_reply(const Packet& packet, std::string* why) {
    Reply r;
    r.kind = packet.command;
    const std::string_view d = packet.data;
    switch (packet.command) {
    case 'O':
        if (d.size() < 12) return none(why, "a negotiation shorter than 12 octets");
        r.version = get32(d, 0);
        r.actions = get32(d, 4);
        r.protocol = get32(d, 8);
        return r;
    case 'c': case 'a': case 'r': case 't': case 'd': case 'p': case 's': case 'f':
        if (!d.empty()) return none(why, "data after a reply that has none");
        return r;
    case 'b':
        r.bytes = std::string(d);
        return r;
    case 'i': case 'm': {
        if (d.size() < 4) return none(why, "a header change without its index");
        r.index = get32(d, 0);
        auto parts = strings_in(d.substr(4));
        if (!parts || parts->size() != 2 || parts->front().empty())
            return none(why, "a header change without a name and a value");
        r.name = std::string((*parts)[0]);
        r.text = std::string((*parts)[1]);
        return r;
    }
    default:
        break;
    }
    auto parts = strings_in(d);
    if (!parts) return none(why, "a string without its NUL");
    switch (packet.command) {
    case 'y':
        if (parts->size() != 1 || !read_replycode((*parts)[0], r, why)) {
            if (why && why->empty()) *why = "a reply code packet that is not one string";
            return std::nullopt;
        }
        return r;
    case 'q':
        if (parts->size() != 1) return none(why, "a quarantine without its reason");
        r.text = std::string((*parts)[0]);
        return r;
    case 'h':
        if (parts->size() != 2 || (*parts)[0].empty()) return none(why, "a header without a name and a value");
        r.name = std::string((*parts)[0]);
        r.text = std::string((*parts)[1]);
        return r;
    case '+': case '-':
        if (parts->size() != 1 || (*parts)[0].empty()) return none(why, "a recipient change without its address");
        r.text = std::string((*parts)[0]);
        return r;
    case '2': case 'e':
        if (parts->empty() || parts->size() > 2 || (*parts)[0].empty())
            return none(why, "an address change without its address");
        r.text = std::string((*parts)[0]);
        if (parts->size() == 2) r.args = std::string((*parts)[1]);
        return r;
    default:
        return none(why, "an unknown reply");
    }
}

}  // namespace haineko::milter
