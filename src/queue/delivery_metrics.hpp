// What the scheduler counts of each settled attempt, for /metrics. The runtime's per-loop
// counters implement it, so the queue does not reach up into the runtime for them.
#pragma once
#include <string>

namespace haineko::queue {

class DeliveryMetrics {
public:
    virtual ~DeliveryMetrics() = default;
    // result: delivered, deferred or bounced
    virtual void count_delivery(const std::string& mailer, const std::string& result) = 0;
    // From acceptance to delivered, in seconds.
    virtual void delivered_after(double seconds) = 0;
};

}  // namespace haineko::queue
