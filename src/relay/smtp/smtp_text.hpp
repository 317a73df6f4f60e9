// The text of the SMTP conversation: EHLO keywords, command lines, SASL answers and
// dot-stuffing. Pure functions, so they are easy to test.
#pragma once
#include <optional>
#include <stdexcept>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace haineko::smtp {

struct Capabilities {
    bool pipelining = false;
    bool starttls = false;
    bool eight_bit_mime = false;
    bool dsn = false;
    bool size = false;
    std::optional<std::size_t> max_size;
    std::set<std::string> auth;  // upper-cased mechanisms
};

// From the lines of a 250 EHLO reply ("250-PIPELINING", "250 SIZE 10240000", ...).
Capabilities parse_ehlo(const std::vector<std::string>& lines);

// CRAM-MD5, LOGIN or PLAIN, the strongest of those offered; empty when none is.
std::string strongest_auth(const Capabilities& caps);

std::string auth_plain_token(std::string_view user, std::string_view password);
// base64(user + " " + hex(HMAC-MD5(password, challenge))); challenge_b64 as the server sent it.
std::optional<std::string> cram_md5_answer(std::string_view user, std::string_view password,
                                           std::string_view challenge_b64);

// The message for DATA: every line starting with "." gets another, then ".\r\n".
// message must be CRLF text ending in CRLF.
std::string dot_stuffed(std::string_view message);

// One whole reply as the server sent it: its code and every line, without CRLF.
struct RawReply {
    int code = 0;
    std::vector<std::string> lines;
    bool positive() const { return code >= 200 && code < 400; }
    bool is_2xx() const { return code >= 200 && code < 300; }
};

// Reads replies out of the bytes a server sends, in any pieces: "250-a", "250 b" make
// one reply. Lines longer than kMaxReplyLine or replies of more than kMaxReplyLines lines
// are protocol errors, as is a line that does not start with three digits and a space
// or dash, or a continuation whose code differs from the first line's.
class ReplyParser {
public:
    static constexpr std::size_t kMaxReplyLine = 4096;  // RFC 5321 says 512; servers say more
    static constexpr std::size_t kMaxReplyLines = 200;

    void feed(std::string_view bytes) { inbox_.append(bytes); }
    // The next whole reply, or nullopt when more bytes are needed.
    // Throws std::runtime_error (the reason) on a protocol error.
    std::optional<RawReply> next();
    bool has_buffered() const { return !inbox_.empty(); }

private:
    std::string inbox_;
    RawReply partial_;
};

}  // namespace haineko::smtp
