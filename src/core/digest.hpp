// SHA-256 and HMAC-SHA256 (OpenSSL), for AWS signatures, webhook signatures and
// idempotency keys.
#pragma once
#include <string>
#include <string_view>

namespace haineko {

std::string hex_of(std::string_view bytes);  // lower case
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw bytes

}  // namespace haineko
