// The store calls of the scheduler, as statements on the store's thread: claim what is
// due, load a message for an attempt, and settle the attempts' outcomes.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "queue/records.hpp"
#include "queue/sql/db.hpp"

namespace haineko::queue::sql {

std::vector<DueRecipient> claim_due(Db& db, Millis now, int limit);
std::optional<Millis> next_due(Db& db);
std::optional<NewMessage> load_message(Db& db, std::int64_t message);
// What an attempt needs of a message: these columns, read from `first` on (the
// recipients come apart), of the message as m joined to its body by kBodyJoin.
extern const char* const kMessageForAttempt;
extern const char* const kBodyJoin;
NewMessage message_for_attempt(const Statement& st, int first);
void settle(Db& db, const std::vector<Outcome>& outcomes, const std::vector<Bounce>& bounces, Millis now);

// Deliveries in flight when the process died are due again: their recipients are no
// longer in flight; one whose cancel or hold was asked for meanwhile is now cancelled or
// held (the attempt did not finish, so it did not succeed). node: only the claims of this
// node (a shared queue); begin: how the transaction starts.
void recover_in_flight(Db& db, Millis now, const std::optional<std::string>& node, const std::string& begin);

}  // namespace haineko::queue::sql
