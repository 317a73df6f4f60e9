// Salted password hashes for the password file: {SSHA} (SHA-1, the original's),
// {SSHA256} and {SSHA512}: "{SCHEME}" + base64(digest(password + salt) + salt).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace haineko {

// True when password matches stored; compared in constant time. Unknown schemes fail.
bool verify_password(std::string_view stored, std::string_view password);

// A new hash with a random salt. scheme: "SSHA", "SSHA256" or "SSHA512".
std::string hash_password(std::string_view password, std::string_view scheme = "SSHA512");
std::string hash_password_with_salt(std::string_view password, std::string_view scheme,
                                    std::string_view salt);

}  // namespace haineko
