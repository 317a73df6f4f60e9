// Who may submit and to whom: relayhosts, recipients, Basic auth and trusted proxies.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace haineko {

// The client's address: the peer's, or, only when the peer is a configured trusted proxy,
// the nearest untrusted address in X-Forwarded-For.
std::string effective_client_address(const Config& config, const std::string& peer, std::string_view forwarded_for);

// Check 3: an authenticated client, an open relay, or a listed address/network.
bool relay_permitted(const Config& config, const std::string& client_address, bool authenticated);

// Check 14: open relay, a listed address, or an address in a listed domain (domain case-insensitive).
bool recipient_permitted(const Config& config, std::string_view rcpt);

// The user named by a valid "Authorization: Basic ..." header, or nullopt.
std::optional<std::string> basic_auth_user(const Config& config, std::string_view authorization);

bool is_loopback(const std::string& address);

}  // namespace haineko
