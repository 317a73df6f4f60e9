// Base64 (RFC 4648) for SASL, Basic auth, password hashes, encoded words and bodies.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace haineko {

std::string base64_encode(std::string_view data);
// nullopt unless text is base64 (CR, LF and spaces aside), padded only at the end.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace haineko
