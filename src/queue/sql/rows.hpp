// The statements that more than one store call needs: keeping a message, writing an
// event, changing a recipient's state, and reading a message back whole.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "queue/records.hpp"
#include "queue/sql/db.hpp"

namespace haineko::queue::sql {

// Inserts the message, its recipients (queued, due at send_at or created_at) and its
// "accepted" event; returns its key, unless the connection pipelines and the key was not
// wanted (then it is not read back).
std::optional<std::int64_t> insert_message(Db& db, const NewMessage& m, bool want_key = false);

void add_event(Db& db, Millis at, std::string_view type, std::int64_t message, const std::optional<std::string>& rcpt,
               const std::optional<ReplyFacts>& reply);

void set_recipient_status(Db& db, std::int64_t message, std::int64_t position, RcptStatus status, Millis now);

// Derives the message's status from its recipients' and keeps it (for listing by status).
void refresh_message_status(Db& db, std::int64_t message);

// The key of the message with this id, when user (if given) submitted it.
std::optional<std::int64_t> message_key(Db& db, const std::string& id, const std::optional<std::string>& user);

// An event of the feed out of eight columns from `first`: seq, at, type, the message's
// id, rcpt, reply, the message's tags and metadata.
Event feed_event_from(const Statement& st, int first);

// The message with its recipients; with_details adds the events and each last reply.
MessageState read_message(Db& db, std::int64_t message, bool with_details);

}  // namespace haineko::queue::sql
