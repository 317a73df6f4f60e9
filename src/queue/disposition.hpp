// The one place that decides what an attempt's reply means for a recipient, as Postfix's
// smtp_trouble.c does: delivered on a 2xx (to the end of DATA, or a cloud API's
// acceptance), bounced on a 5xx or once max_lifetime has passed, deferred otherwise
// (4xx, no connection, a timeout, DNS trouble) with the next attempt after a backoff.
#pragma once
#include <random>

#include "core/reply.hpp"
#include "queue/backoff.hpp"
#include "queue/records.hpp"

namespace haineko::queue {

// The reply as the API shows it.
ReplyFacts facts_of(const Reply& reply);

Outcome dispose(const DueRecipient& due, const Reply& reply, const RouteFacts& route, const RetryPolicy& policy,
                Millis now, std::mt19937_64& random);

}  // namespace haineko::queue
