// The store calls of the scheduler, as statements on the store's thread: claim what is
// due, load a message for an attempt, and settle the attempts' outcomes.
#pragma once
#include <optional>
#include <vector>

#include "queue/records.hpp"
#include "queue/sql/db.hpp"

namespace haineko::queue::sql {

std::vector<DueRecipient> claim_due(Db& db, Millis now, int limit);
std::optional<Millis> next_due(Db& db);
std::optional<NewMessage> load_message(Db& db, std::int64_t message);
void settle(Db& db, const std::vector<Outcome>& outcomes, const std::vector<Bounce>& bounces, Millis now);

}  // namespace haineko::queue::sql
