// The store calls of the webhook sender, as statements on the store's thread.
#pragma once
#include <optional>
#include <vector>

#include "queue/records.hpp"
#include "queue/sql/db.hpp"

namespace haineko::queue::sql {

int fan_out_webhooks(Db& db, const std::vector<WebhookTarget>& targets, Millis now, int limit);
std::vector<WebhookJob> claim_webhooks(Db& db, Millis now, Millis lease, int limit);
void settle_webhook(Db& db, std::int64_t n, const std::optional<Millis>& next_attempt_at);

}  // namespace haineko::queue::sql
