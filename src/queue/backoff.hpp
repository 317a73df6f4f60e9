// When to try a deferred recipient again, and when to give up: Postfix's rules
// (minimal_backoff_time, maximal_backoff_time, maximal_queue_lifetime), with jitter so
// that mail deferred together does not come back together.
#pragma once
#include <random>

#include "queue/records.hpp"

namespace haineko::queue {

struct RetryPolicy {
    Millis min_backoff = 300'000;       // 300 s
    Millis max_backoff = 4'000'000;     // 4000 s
    Millis max_lifetime = 432'000'000;  // 5 days
};

// The wait after the n-th failed attempt (n >= 1): min_backoff doubled n-1 times, at most
// max_backoff, then moved by jitter (a fraction in [-0.1, 0.1]).
Millis backoff_after(const RetryPolicy& policy, int failures, double jitter);

// backoff_after with a random jitter of ±10 %.
Millis backoff_after(const RetryPolicy& policy, int failures, std::mt19937_64& random);

// True once max_lifetime has passed since acceptance.
bool lifetime_over(const RetryPolicy& policy, Millis created_at, Millis now);

}  // namespace haineko::queue
