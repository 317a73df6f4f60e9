#include "relay/route_choice.hpp"

#include "core/address.hpp"

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
    if (auto r = usable(config.mailertable, domain_of(rcpt))) return *r;
    if (auto r = usable(config.sendermt, domain_of(sender))) return *r;
    if (auto r = usable(config.mailertable, "default")) return *r;
    return built_in;
}

}  // namespace haineko
