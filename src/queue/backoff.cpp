#include "queue/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace haineko::queue {

Millis backoff_after(const RetryPolicy& policy, int failures, double jitter) {
    const Millis floor = std::max<Millis>(policy.min_backoff, 0);
    const Millis ceiling = std::max(policy.max_backoff, floor);
    Millis wait = floor;
    for (int i = 1; i < failures && wait < ceiling; ++i) wait = std::min(wait * 2, ceiling);
    wait = std::min(wait, ceiling);
    const double moved = static_cast<double>(wait) * (1.0 + std::clamp(jitter, -0.1, 0.1));
    return std::max<Millis>(static_cast<Millis>(std::llround(moved)), 1000);
}

Millis backoff_after(const RetryPolicy& policy, int failures, std::mt19937_64& random) {
    std::uniform_real_distribution<double> jitter(-0.1, 0.1);
    return backoff_after(policy, failures, jitter(random));
}

bool lifetime_over(const RetryPolicy& policy, Millis created_at, Millis now) {
    return now - created_at >= policy.max_lifetime;
}

}  // namespace haineko::queue
