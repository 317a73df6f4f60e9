#include "loops/loop_metrics.hpp"

namespace haineko {

void Histogram::observe(double value) {
    for (std::size_t i = 0; i < kBounds.size(); ++i)
        if (value <= kBounds[i]) {
            ++below[i];
            break;
        }
    ++count;
    sum += value;
}

void Histogram::add(const Histogram& other) {
    for (std::size_t i = 0; i < below.size(); ++i) below[i] += other.below[i];
    count += other.count;
    sum += other.sum;
}

namespace {
template <typename Map>
void add_counts(Map& into, const Map& from) {
    for (const auto& [key, n] : from) into[key] += n;
}
}  // namespace

void LoopMetrics::add(const LoopMetrics& other) {
    add_counts(http_requests, other.http_requests);
    add_counts(deliveries, other.deliveries);
    add_counts(smtp_messages, other.smtp_messages);
    delivery_latency.add(other.delivery_latency);
}

}  // namespace haineko
