// The store calls of the /v1 API, as statements on the store's thread: accept, read,
// list, act, count, and the event feed.
#pragma once
#include <optional>
#include <string>

#include "queue/records.hpp"
#include "queue/sql/db.hpp"

namespace haineko::queue::sql {

// How long an Idempotency-Key is remembered.
inline constexpr Millis kIdempotencyWindow = 24LL * 3600 * 1000;

Enqueued enqueue_message(Db& db, const NewMessage& m, const std::optional<IdempotencyClaim>& claim);
std::optional<MessageState> find_message(Db& db, const std::string& id, const std::optional<std::string>& user);
MessagePage list_messages(Db& db, const ListQuery& query);
ActResult act_on_message(Db& db, const std::string& id, const std::optional<std::string>& user, Action action,
                         Millis now);
QueueCounts count_queue(Db& db);
std::int64_t retry_all_deferred(Db& db, Millis now);
EventPage read_events(Db& db, std::int64_t after, int limit);

}  // namespace haineko::queue::sql
