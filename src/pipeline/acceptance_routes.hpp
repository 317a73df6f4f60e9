// Each recipient's route as the queue records it at acceptance (for MX, the domain), so
// that /v1/queue can count by route before any attempt. Every intake that enqueues calls it
// again after a stage rewrote the envelope.
#pragma once
#include <string>
#include <vector>

#include "config/config.hpp"
#include "queue/records.hpp"

namespace haineko {

std::vector<queue::RouteFacts> routes_at_acceptance(const Config& config, const std::string& mail,
                                                    const std::vector<std::string>& rcpts);

}  // namespace haineko
