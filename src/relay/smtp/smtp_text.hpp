// The text of the SMTP conversation: EHLO keywords, command lines, SASL answers and
// dot-stuffing. Pure functions, so they are easy to test.
#pragma once
#include <optional>
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

}  // namespace haineko::smtp
