// What the queue keeps: messages, their recipients and the events of their lives, as
// every store (SQLite, PostgreSQL) reads and writes them. Times are milliseconds since the
// Unix epoch (UTC); the API writes them as RFC 3339.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace haineko::queue {

using Millis = std::int64_t;

// A recipient's state (api-v1.md). "In flight" is not a state of its own: a recipient
// being delivered keeps its state until the attempt is settled.
enum class RcptStatus { queued, deferred, delivered, bounced, cancelled, held };
std::string_view name_of(RcptStatus status);
std::optional<RcptStatus> rcpt_status_named(std::string_view name);
bool is_pending(RcptStatus status);  // queued, deferred or held

// A message's state: pending while any recipient is; else delivered, bounced or
// cancelled when all of them are, else partial.
enum class MessageStatus { pending, delivered, bounced, cancelled, partial };
std::string_view name_of(MessageStatus status);
std::optional<MessageStatus> message_status_named(std::string_view name);
MessageStatus message_status_of(const std::vector<RcptStatus>& recipients);

// Where an attempt went, for the status API.
struct RouteFacts {
    std::string mailer;
    std::string host;
    int port = 0;
};

// A recipient's DSN parameters (RFC 3461), as the client gave them at RCPT.
struct RcptDsn {
    std::optional<std::string> notify;  // NEVER, or a list of SUCCESS, FAILURE, DELAY
    std::optional<std::string> orcpt;   // "rfc822;addr" as given (xtext decoded)
    bool wants_failure_report() const { return !notify || notify->find("FAILURE") != std::string::npos; }
};

// What an intake hands to the queue: the built message and its envelope.
// What a plugin did to a message at acceptance (an OK or a rewrite at rcpt or later, a
// hold): an event of type "plugin" (spec/plugins.md, "Answers outside SMTP").
struct PluginNote {
    std::string plugin;
    std::string hook;    // "rcpt", "data_post", ...
    std::string answer;  // ok, rewrite or hold
    std::string text;
};

struct NewMessage {
    std::string id;    // [A-Za-z0-9_-]{1,64}, made by the caller
    std::string user;  // the Basic-auth user, "" when anonymous
    std::string message_id;
    std::string from;  // the From header's address
    std::string mail;  // the envelope sender, "" for a bounce (null sender)
    std::string subject;
    std::vector<std::string> rcpts;  // the envelope recipients, without duplicates
    std::vector<RouteFacts> routes;  // each recipient's route at acceptance (or empty)
    std::string body;                // the whole RFC 5322 message, CRLF line ends
    Millis created_at = 0;
    std::optional<Millis> send_at;
    std::vector<std::string> tags;
    std::vector<std::pair<std::string, std::string>> metadata;
    bool is_bounce = false;  // a delivery status notification: never bounced itself
    bool held = false;       // kept held (a milter quarantined it) until released
    // DSN parameters (RFC 3461) from MAIL and each RCPT; rcpt_dsn is empty, or one per rcpt.
    std::optional<std::string> dsn_ret;    // FULL or HDRS
    std::optional<std::string> dsn_envid;
    std::vector<RcptDsn> rcpt_dsn;
    std::vector<PluginNote> plugin_notes;  // each an event after "accepted"
};

// An Idempotency-Key with what the first request got, kept for 24 hours per user.
struct IdempotencyClaim {
    std::string key;
    std::string body_hash;  // of the request body, to tell a replay from a conflict
    std::string answer;     // the first answer's JSON body, for a replay
};

// The reply of the last attempt, as the API shows it.
struct ReplyFacts {
    std::string code;
    std::string dsn;
    std::string command;
    std::vector<std::string> message;
    std::string host;
};

struct RecipientState {
    std::string rcpt;
    RcptStatus status = RcptStatus::queued;
    int attempts = 0;
    std::optional<Millis> next_attempt_at;
    Millis updated_at = 0;
    std::optional<RouteFacts> route;
    std::optional<ReplyFacts> last_reply;
};

// Event types of the API: accepted, deferred, delivered, bounced, cancelled, held,
// released, dsn-sent.
struct Event {
    std::int64_t seq = 0;
    Millis at = 0;
    std::string type;
    std::string id;  // the message's id
    std::optional<std::string> rcpt;
    std::optional<ReplyFacts> reply;
    std::vector<std::string> tags;
    std::vector<std::pair<std::string, std::string>> metadata;
};

struct MessageState {
    std::string id;
    std::string user;
    MessageStatus status = MessageStatus::pending;
    std::string message_id;
    Millis created_at = 0;
    std::optional<Millis> send_at;
    std::string from;
    std::string mail;
    std::string subject;
    std::int64_t size = 0;
    std::vector<std::string> tags;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::vector<RecipientState> recipients;
    std::vector<Event> events;  // empty in summaries
};

// The answer to an enqueue.
struct Enqueued {
    enum class Kind { stored, replay, conflict };
    Kind kind = Kind::stored;
    std::string answer;  // replay: the first request's answer
};

// GET /v1/messages
struct ListQuery {
    std::optional<std::string> user;  // only this user's messages (auth on)
    std::optional<MessageStatus> status;
    int limit = 100;
    std::optional<std::int64_t> before;  // the cursor: the position of the last one seen
};

struct MessagePage {
    std::vector<MessageState> messages;  // summaries, newest first
    std::optional<std::int64_t> next;    // the cursor for the next page
};

struct EventPage {
    std::vector<Event> events;
    std::int64_t next = 0;  // the seq to ask after next time
};

struct RouteCount {
    std::string mailer;
    std::string host;
    std::int64_t pending = 0;
    Millis oldest_at = 0;
};

// The recipients one node of a shared store has in flight, and the latest end of its leases.
struct NodeLease {
    std::string node;
    std::int64_t recipients = 0;
    Millis lease_until = 0;
};

struct QueueCounts {
    std::int64_t pending = 0;  // messages
    std::int64_t queued = 0, deferred = 0, held = 0;  // recipients
    std::vector<RouteCount> by_route;
    std::optional<Millis> oldest_at;
    std::int64_t webhook_backlog = 0;  // events not yet posted to a webhook (for /metrics)
    // A shared store only (the API shows it then): who holds what, by node.
    std::optional<std::vector<NodeLease>> in_flight;
};

// The retry, hold, release and cancel actions of the API.
enum class Action { retry, hold, release, cancel };

struct ActResult {
    enum class Kind { done, not_found, not_pending };
    Kind kind = Kind::done;
    MessageState message;
};

// A recipient whose attempt is due, claimed for delivery (in flight until settled).
struct DueRecipient {
    std::int64_t message = 0;  // the store's key of the message
    std::string id;
    std::string rcpt;
    int attempts = 0;  // before this attempt
    Millis created_at = 0;
    std::int64_t position = 0;  // the recipient's place in its message: with message, its key
};

// A delivery status notification to queue for a message whose recipients bounced.
struct Bounce {
    std::int64_t original = 0;  // the store's key of the bounced message
    NewMessage report;
};

// How one attempt ended for one recipient, as the disposition step decided.
struct Outcome {
    std::int64_t message = 0;
    std::int64_t position = 0;  // as claimed
    std::string rcpt;
    RcptStatus status = RcptStatus::deferred;  // delivered, deferred or bounced
    std::optional<Millis> next_attempt_at;     // deferred: when
    std::optional<RouteFacts> route;
    std::optional<ReplyFacts> reply;
};

// A webhook as the store sees it: where, and which event types (all when empty).
struct WebhookTarget {
    std::string url;
    std::vector<std::string> events;
};

// One event to POST to one webhook.
struct WebhookJob {
    std::int64_t n = 0;  // the store's key of this delivery
    std::string url;
    int attempts = 0;    // before this one
    Event event;
};

}  // namespace haineko::queue
