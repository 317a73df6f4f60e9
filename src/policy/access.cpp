#include "policy/access.hpp"

#include <vector>

#include "core/address.hpp"
#include "core/base64.hpp"
#include "policy/password.hpp"

namespace haineko {
namespace {

bool is_trusted(const Config& config, std::string_view address) {
    auto ip = parse_ip(address);
    return ip && any_contains(config.smtpd.trusted_proxies, *ip);
}

}  // namespace

std::string effective_client_address(const Config& config, const std::string& peer, std::string_view forwarded_for) {
    auto peer_ip = parse_ip(peer);
    std::string client = peer_ip ? peer_ip->to_string() : peer;
    if (forwarded_for.empty() || !is_trusted(config, client)) return client;
    std::vector<std::string_view> hops;
    size_t pos = 0;
    while (pos <= forwarded_for.size()) {
        size_t comma = forwarded_for.find(',', pos);
        hops.push_back(trim(forwarded_for.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos)));
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    // Walk from the nearest hop outwards; the first address we do not trust is the client.
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        auto ip = parse_ip(*it);
        if (!ip) return client;  // garbage in the header: trust nothing beyond this proxy
        client = ip->to_string();
        if (!any_contains(config.smtpd.trusted_proxies, *ip)) return client;
    }
    return client;
}

bool relay_permitted(const Config& config, const std::string& client_address, bool authenticated) {
    if (authenticated || config.relayhosts.open_relay) return true;
    auto ip = parse_ip(client_address);
    return ip && any_contains(config.relayhosts.networks, *ip);
}

bool recipient_permitted(const Config& config, std::string_view rcpt) {
    const auto& policy = config.recipients;
    if (policy.open_relay) return true;
    auto at = rcpt.rfind('@');
    if (at == std::string_view::npos) return false;
    std::string domain = to_lower(rcpt.substr(at + 1));
    if (policy.domains.count(domain)) return true;
    return policy.addresses.count(std::string(rcpt.substr(0, at + 1)) + domain) > 0;
}

std::optional<std::string> basic_auth_user(const Config& config, std::string_view authorization) {
    authorization = trim(authorization);
    if (authorization.size() < 6 || to_lower(authorization.substr(0, 6)) != "basic ") return std::nullopt;
    auto decoded = base64_decode(trim(authorization.substr(6)));
    if (!decoded) return std::nullopt;
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string user = decoded->substr(0, colon);
    auto it = config.passwords.find(user);
    // Hash even for an unknown user, so that timing does not tell which users exist.
    static const std::string dummy = hash_password_with_salt("x", "SSHA512", "saltsalt");
    bool ok = verify_password(it == config.passwords.end() ? dummy : it->second, decoded->substr(colon + 1));
    if (it == config.passwords.end() || !ok) return std::nullopt;
    return user;
}

bool is_loopback(const std::string& address) {
    auto ip = parse_ip(address);
    return ip && ip->is_loopback();
}

}  // namespace haineko
