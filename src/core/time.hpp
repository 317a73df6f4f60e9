// RFC 3339 UTC times ("2026-11-23T10:00:00Z"), as the /v1 API reads and writes them, and
// milliseconds since the Unix epoch, as the queue keeps them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace haineko {

// Now, in milliseconds since the Unix epoch (the wall clock, as the queue keeps time).
std::int64_t now_millis();

// Whole seconds, UTC, with a Z.
std::string rfc3339(std::int64_t millis);

// "YYYY-MM-DDTHH:MM:SS" with optional fractions and "Z" or "+HH:MM"/"-HH:MM"; nullopt for
// anything else (or an impossible date).
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace haineko
