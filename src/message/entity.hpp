// A message or a MIME part split into its header fields and its body, for reading a
// message someone else built (a queued message's MIME, an SMTP client's message). Lenient:
// CRLF or bare LF line ends, folded fields unfolded, lines that are not fields skipped.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace haineko {

struct Entity {
    std::vector<std::pair<std::string, std::string>> fields;  // lower-case name, unfolded value
    std::string_view body;
    std::size_t header_end = 0;  // where the empty line after the header starts (or the end)

    // The first field of that (lower-case) name, or "".
    std::string field(std::string_view name) const;
    bool has(std::string_view name) const;
};

// The header ends at the first empty line; without one, everything is header.
Entity split_entity(std::string_view bytes);

}  // namespace haineko
