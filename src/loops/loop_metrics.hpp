// The counters one event loop keeps for /metrics. Only that loop's thread writes them,
// with plain increments and no lock; a scrape copies each loop's counters on the loop's
// own thread (co_spawn onto it) and adds the copies up.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "queue/delivery_metrics.hpp"

namespace haineko {

// A cumulative histogram with fixed upper bounds (Prometheus' "le").
struct Histogram {
    static constexpr std::array<double, 14> kBounds{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
    std::array<std::uint64_t, kBounds.size()> below{};  // observations <= each bound (not yet cumulative)
    std::uint64_t count = 0;
    double sum = 0;

    void observe(double value);
    void add(const Histogram& other);
};

struct LoopMetrics final : queue::DeliveryMetrics {
    // (endpoint, status) -> requests answered
    std::map<std::pair<std::string, int>, std::uint64_t> http_requests;
    // (mailer, result) -> recipients; result is delivered, deferred or bounced
    std::map<std::pair<std::string, std::string>, std::uint64_t> deliveries;
    // From acceptance to delivered, in seconds.
    Histogram delivery_latency;
    // result -> SMTP transactions at the end of data: accepted, refused (5xx), deferred (4xx)
    std::map<std::string, std::uint64_t> smtp_messages;

    void count_http(std::string endpoint, int status) { ++http_requests[{std::move(endpoint), status}]; }
    void count_delivery(const std::string& mailer, const std::string& result) override { ++deliveries[{mailer, result}]; }
    void delivered_after(double seconds) override { delivery_latency.observe(seconds); }
    void count_smtp(const std::string& result) { ++smtp_messages[result]; }
    void add(const LoopMetrics& other);
};

}  // namespace haineko
