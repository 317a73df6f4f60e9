// Header fields as they go on the wire: one line of at most 78 characters where it can
// be folded, RFC 2047 encoded words for anything that is not ASCII.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace haineko {

// "Name: value\r\n", folded; non-ASCII values become encoded words in charset (UTF-8 when
// charset cannot hold them). Control characters in the value become spaces.
std::string header_field(std::string_view name, std::string_view utf8_value, std::string_view charset);

// For From, Reply-To and Sender: only the display name is encoded; the address stays as
// it is, so that it remains readable.
std::string address_field(std::string_view name, std::string_view utf8_value, std::string_view charset);

// B-encoded words of at most 75 characters, the first at most first_budget; a word never
// splits a character. nullopt when charset cannot hold a character.
std::optional<std::vector<std::string>> encoded_words(std::string_view utf8, std::string_view charset,
                                                      std::size_t first_budget);

}  // namespace haineko
