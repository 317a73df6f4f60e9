// GET /metrics: Prometheus' text exposition format (0.0.4), written by hand. Every event
// loop's own counters (runtime/loop_metrics.hpp) are copied on that loop and added up;
// the queue's depth comes from the store's counts, cached for a few seconds so that many
// scrapers cost the store one query; the process's CPU and RSS come from /proc.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "http/handlers.hpp"
#include "queue/records.hpp"

namespace haineko {

class Runtime;

// The endpoint label of a request path: the path itself for a fixed one, a pattern for
// /v1/messages/ID and its actions, "other" for the rest (so that a client cannot make
// one series per URL it invents).
std::string endpoint_label(std::string_view path);

// Label values escaped as the format asks: backslash, double quote and line feed.
std::string escaped_label(std::string_view value);

class MetricsScrape {
public:
    MetricsScrape(Runtime& runtime, queue::QueueService* queue) : runtime_(runtime), queue_(queue) {}

    // The whole exposition, gathered from every loop; runs on the asking loop.
    boost::asio::awaitable<std::string> text();

private:
    boost::asio::awaitable<std::optional<queue::QueueCounts>> queue_counts();

    Runtime& runtime_;
    queue::QueueService* queue_;
    std::mutex cache_mutex_;  // scrapes on several loops share the cached counts
    std::optional<queue::QueueCounts> cached_;
    std::chrono::steady_clock::time_point cached_at_;
};

// The answer to /metrics: loopback clients, or any client with valid credentials when
// Basic auth is on; 403 otherwise (401 when credentials could help).
boost::asio::awaitable<Response> metrics_answer(const Request& r, const Peer& peer, const Config& config,
                                                MetricsScrape* scrape);

}  // namespace haineko
