#include "relay/route_choice.hpp"

#include "core/address.hpp"
#include "core/text.hpp"

namespace haineko {
namespace {

const Route* usable(const std::map<std::string, Route>& table, const std::string& key) {
    auto it = table.find(key);
    if (it == table.end() || it->second.disabled) return nullptr;
    return &it->second;
}

}  // namespace

const Route& choose_route(const Config& config, const std::string& sender, const std::string& rcpt) {
    static const Route built_in{};
    // A domain of our own (etc/inbound) goes to its backend, from every intake.
    if (!config.inbound.empty())
        if (auto it = config.inbound.find(to_lower(domain_of(rcpt))); it != config.inbound.end() && !it->second.route.disabled)
            return it->second.route;
    if (auto r = usable(config.mailertable, domain_of(rcpt))) return *r;
    if (auto r = usable(config.sendermt, domain_of(sender))) return *r;
    if (auto r = usable(config.mailertable, "default")) return *r;
    return built_in;
}

}  // namespace haineko
