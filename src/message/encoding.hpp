// Content-Transfer-Encodings and line endings for message bodies.
#pragma once
#include <string>
#include <string_view>

namespace haineko {

// Every CR, LF or CRLF becomes CRLF, and the text ends with CRLF.
std::string normalize_crlf(std::string_view text);

// Base64 in lines of 76 characters, each ending in CRLF.
std::string base64_body(std::string_view data);

// Quoted-printable (RFC 2045) of CRLF text: lines of at most 76 characters.
std::string quoted_printable(std::string_view crlf_text);

// The longest line in CRLF text, in octets, without the CRLF.
std::size_t longest_line(std::string_view crlf_text);

}  // namespace haineko
