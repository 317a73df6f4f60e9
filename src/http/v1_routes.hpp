// The /v1 endpoints (api-v1.md): accept into the queue, read a message, list, act,
// queue counts and the event feed. Access first: Basic auth when on (401), then
// relayhosts (403); with auth on, a user sees only the messages they submitted.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <memory>

#include "config/config.hpp"
#include "http/handlers.hpp"

namespace haineko {

namespace queue {
class QueueService;
}

// True for paths this handles ("/v1" and below).
bool is_v1_path(std::string_view path);

// queue may be null (no queue in this process): every call then answers 503.
boost::asio::awaitable<Response> handle_v1(const Request& request, const Peer& peer, const Config& config,
                                           queue::QueueService* queue);

}  // namespace haineko
