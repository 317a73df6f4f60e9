#include "pipeline/acceptance_routes.hpp"

#include "core/address.hpp"
#include "relay/route_choice.hpp"

namespace haineko {

std::vector<queue::RouteFacts> routes_at_acceptance(const Config& config, const std::string& mail,
                                                    const std::vector<std::string>& rcpts) {
    std::vector<queue::RouteFacts> routes;
    for (const auto& rcpt : rcpts) {
        const Route& route = choose_route(config, mail, rcpt);
        routes.push_back(queue::RouteFacts{route.mailer, route.mailer == "MX" ? domain_of(rcpt) : route.host, route.port});
    }
    return routes;
}

}  // namespace haineko
