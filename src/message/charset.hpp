// Character sets a message may go out in, and conversion to and from UTF-8 through iconv.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace haineko {

// The charset a message goes out in for a requested one: UTF-8, ISO-2022-JP, ISO-8859-1
// or US-ASCII (any case); anything else is UTF-8, as the contract says.
std::string canonical_charset(std::string_view requested);

// UTF-8 text in charset, or nullopt when a character has no place in it.
// For ISO-2022-JP the result always ends back in ASCII, so pieces can be joined.
std::optional<std::string> convert_from_utf8(std::string_view utf8, std::string_view charset);

// Bytes in charset (any name iconv knows; ASCII when empty) as UTF-8, or nullopt when
// they are not text in that charset.
std::optional<std::string> convert_to_utf8(std::string_view bytes, std::string_view charset);

// Byte length of the UTF-8 sequence that starts with lead (1 for a stray byte).
std::size_t utf8_sequence_length(unsigned char lead);

}  // namespace haineko
