// Text helpers shared by every room: UTF-8 validity and repair, and client text made
// safe for a log line.
#pragma once
#include <string>
#include <string_view>

namespace haineko {

bool is_valid_utf8(std::string_view s);
// Where the first invalid UTF-8 sequence starts, or npos.
std::size_t first_invalid_utf8(std::string_view s);

// s with every invalid UTF-8 sequence (stray bytes, overlongs, surrogates, code points
// past U+10FFFF, truncated sequences) replaced by U+FFFD, so that it can go into JSON.
std::string repaired_utf8(std::string_view s);

std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);

// s without spaces and tabs at its ends.
std::string_view trim(std::string_view s);

// A header value on one line: CR, LF and every other control character (tab aside)
// become spaces, so that nothing in a value can start a header of its own.
std::string one_line(std::string_view s);

// Client-supplied text in a log line: control characters escaped, so that nothing a
// client sends can start a line of its own in the log.
std::string loggable(std::string_view s);

}  // namespace haineko
