#include "queue/sql/message_calls.hpp"

#include <algorithm>

#include "queue/sql/columns.hpp"
#include "queue/sql/rows.hpp"

namespace haineko::queue::sql {

namespace {

// The Idempotency-Key seen before for this user, within the window.
std::optional<Enqueued> earlier_answer(Db& db, const std::string& user, const IdempotencyClaim& claim, Millis now) {
    auto& st = db.prepare("SELECT body_hash, answer FROM idempotency WHERE \"user\" = ? AND key = ? AND created_at > ?");
    st.bind(1, user).bind(2, claim.key).bind(3, now - kIdempotencyWindow);
    if (!st.step()) return std::nullopt;
    if (st.text(0) != claim.body_hash) return Enqueued{Enqueued::Kind::conflict, {}};
    return Enqueued{Enqueued::Kind::replay, st.text(1)};
}

void remember_claim(Db& db, const std::string& user, const IdempotencyClaim& claim, Millis now) {
    auto& st = db.prepare(
        "INSERT INTO idempotency(\"user\", key, body_hash, answer, created_at) VALUES(?, ?, ?, ?, ?) "
        "ON CONFLICT(\"user\", key) DO UPDATE SET body_hash = excluded.body_hash, answer = excluded.answer, "
        "created_at = excluded.created_at");
    st.bind(1, user).bind(2, claim.key).bind(3, claim.body_hash).bind(4, claim.answer).bind(5, now).run();
}

struct PendingRecipient {
    std::int64_t position;
    std::string rcpt;
    RcptStatus status;
    int attempts;
    bool in_flight;
};

// Locked where the database locks rows: a claim on another connection (this node's or
// another's) that committed since this transaction began is then seen, and its recipient
// is asked in flight rather than held or cancelled under the attempt.
std::vector<PendingRecipient> pending_recipients(Db& db, std::int64_t message) {
    auto& st = db.prepare(std::string(
        "SELECT position, rcpt, status, attempts, in_flight FROM recipients WHERE message = ? "
        "AND status IN ('queued', 'deferred', 'held') ORDER BY position") + (db.locks_rows() ? " FOR UPDATE" : ""));
    st.bind(1, message);
    std::vector<PendingRecipient> rows;
    while (st.step())
        rows.push_back({st.integer(0), st.text(1), rcpt_status_named(st.text(2)).value_or(RcptStatus::queued),
                        static_cast<int>(st.integer(3)), st.integer(4) != 0});
    return rows;
}

void make_due(Db& db, std::int64_t message, std::int64_t position, RcptStatus status, Millis due, Millis now) {
    auto& st = db.prepare(
        "UPDATE recipients SET status = ?, next_attempt_at = ?, updated_at = ? WHERE message = ? AND position = ?");
    st.bind(1, name_of(status)).bind(2, due).bind(3, now).bind(4, message).bind(5, position).run();
}

// A cancel or hold asked for while the recipient is in flight: the attempt's settling
// applies it (api-v1.md: a delivery in flight finishes first).
void ask_in_flight(Db& db, std::int64_t message, std::int64_t position, const char* what) {
    auto& st = db.prepare("UPDATE recipients SET asked = ? WHERE message = ? AND position = ?");
    st.bind(1, std::string_view(what)).bind(2, message).bind(3, position).run();
}

std::optional<Millis> send_at_of(Db& db, std::int64_t message) {
    auto& st = db.prepare("SELECT send_at FROM messages WHERE n = ?");
    st.bind(1, message);
    return st.step() ? st.optional_integer(0) : std::nullopt;
}

void apply(Db& db, std::int64_t message, const PendingRecipient& r, Action action, Millis now) {
    const RcptStatus unheld = r.attempts > 0 ? RcptStatus::deferred : RcptStatus::queued;
    switch (action) {
    case Action::retry:
        if (r.in_flight) return;
        if (r.status == RcptStatus::held) add_event(db, now, "released", message, r.rcpt, std::nullopt);
        if (r.status != RcptStatus::queued) make_due(db, message, r.position, r.status == RcptStatus::held ? unheld : r.status, now, now);
        return;
    case Action::hold:
        if (r.status == RcptStatus::held) return;
        if (r.in_flight) return ask_in_flight(db, message, r.position, "hold");
        set_recipient_status(db, message, r.position, RcptStatus::held, now);
        return add_event(db, now, "held", message, r.rcpt, std::nullopt);
    case Action::release: {
        if (r.status != RcptStatus::held) return;
        const Millis due = std::max(send_at_of(db, message).value_or(now), now);
        make_due(db, message, r.position, unheld, due, now);
        return add_event(db, now, "released", message, r.rcpt, std::nullopt);
    }
    case Action::cancel:
        if (r.in_flight) return ask_in_flight(db, message, r.position, "cancel");
        set_recipient_status(db, message, r.position, RcptStatus::cancelled, now);
        return add_event(db, now, "cancelled", message, r.rcpt, std::nullopt);
    }
}

}  // namespace

Enqueued enqueue_message(Db& db, const NewMessage& m, const std::optional<IdempotencyClaim>& claim) {
    if (claim) {
        if (auto earlier = earlier_answer(db, m.user, *claim, m.created_at)) return *earlier;
        remember_claim(db, m.user, *claim, m.created_at);
    }
    if (m.held) {  // a milter quarantined it: every recipient waits for a release
        const std::int64_t key = *insert_message(db, m, true);
        for (const auto& r : pending_recipients(db, key)) apply(db, key, r, Action::hold, m.created_at);
        refresh_message_status(db, key);
    } else {
        insert_message(db, m);
    }
    return Enqueued{Enqueued::Kind::stored, {}};
}

std::optional<MessageState> find_message(Db& db, const std::string& id, const std::optional<std::string>& user) {
    const auto key = message_key(db, id, user);
    if (!key) return std::nullopt;
    return read_message(db, *key, true);
}

MessagePage list_messages(Db& db, const ListQuery& q) {
    auto& st = db.prepare(
        "SELECT n FROM messages WHERE (CAST(?1 AS TEXT) IS NULL OR \"user\" = ?1) "
        "AND (CAST(?2 AS TEXT) IS NULL OR status = ?2) AND (CAST(?3 AS BIGINT) IS NULL OR n < ?3) "
        "ORDER BY n DESC LIMIT ?4");  // the casts tell PostgreSQL each parameter's type
    st.bind(1, q.user);
    if (q.status) st.bind(2, name_of(*q.status));
    st.bind(3, q.before).bind(4, static_cast<std::int64_t>(q.limit) + 1);
    std::vector<std::int64_t> keys;
    while (st.step()) keys.push_back(st.integer(0));
    st.reset();
    MessagePage page;
    if (keys.size() > static_cast<size_t>(q.limit)) {
        keys.pop_back();
        page.next = keys.back();
    }
    for (auto key : keys) page.messages.push_back(read_message(db, key, false));
    return page;
}

ActResult act_on_message(Db& db, const std::string& id, const std::optional<std::string>& user, Action action,
                         Millis now) {
    const auto key = message_key(db, id, user);
    if (!key) return ActResult{ActResult::Kind::not_found, {}};
    const auto pending = pending_recipients(db, *key);
    if (pending.empty()) return ActResult{ActResult::Kind::not_pending, read_message(db, *key, true)};
    for (const auto& r : pending) apply(db, *key, r, action, now);
    refresh_message_status(db, *key);
    return ActResult{ActResult::Kind::done, read_message(db, *key, true)};
}

// The counts are kept by triggers (schema.cpp); only the oldest are looked up, each
// through an index.
QueueCounts count_queue(Db& db) {
    QueueCounts c;
    auto& counts = db.prepare(
        "SELECT route_mailer, route_host, status, count FROM pending_counts WHERE count > 0 "
        "ORDER BY route_mailer, route_host");
    while (counts.step()) {
        const std::string mailer = counts.text(0), host = counts.text(1), status = counts.text(2);
        const std::int64_t n = counts.integer(3);
        (status == "queued" ? c.queued : status == "deferred" ? c.deferred : c.held) += n;
        if (c.by_route.empty() || c.by_route.back().mailer != mailer || c.by_route.back().host != host)
            c.by_route.push_back({mailer, host, 0, 0});
        c.by_route.back().pending += n;
    }
    auto& oldest_for_route = db.prepare(
        "SELECT m.created_at FROM messages m WHERE m.n = (SELECT min(message) FROM recipients "
        "WHERE coalesce(route_mailer, '') = ?1 AND coalesce(route_host, '') = ?2 "
        "AND (status = 'queued' OR status = 'deferred' OR status = 'held'))");  // as the index says
    for (auto& route : c.by_route) {
        oldest_for_route.reset();
        oldest_for_route.bind(1, route.mailer).bind(2, route.host);
        if (oldest_for_route.step()) route.oldest_at = oldest_for_route.integer(0);
    }
    std::stable_sort(c.by_route.begin(), c.by_route.end(),
                     [](const RouteCount& a, const RouteCount& b) { return a.pending > b.pending; });
    auto& pending = db.prepare("SELECT count(*) FROM messages WHERE status = 'pending'");
    if (pending.step()) c.pending = pending.integer(0);
    auto& oldest = db.prepare(
        "SELECT created_at FROM messages WHERE n = (SELECT min(n) FROM messages WHERE status = 'pending')");
    if (oldest.step()) c.oldest_at = oldest.integer(0);
    auto& backlog = db.prepare("SELECT count(*) FROM webhook_deliveries");
    if (backlog.step()) c.webhook_backlog = backlog.integer(0);
    return c;
}

std::int64_t retry_all_deferred(Db& db, Millis now) {
    auto& st = db.prepare(
        "UPDATE recipients SET next_attempt_at = ?1 WHERE status = 'deferred' AND in_flight = 0 "
        "AND next_attempt_at > ?1");
    st.bind(1, now).run();
    return db.changes();
}

EventPage read_events(Db& db, std::int64_t after, int limit) {
    auto& st = db.prepare(
        "SELECT e.seq, e.at, e.type, m.id, e.rcpt, e.reply, m.tags, m.metadata FROM events e "
        "JOIN messages m ON m.n = e.message WHERE e.seq > ? ORDER BY e.seq LIMIT ?");
    st.bind(1, after).bind(2, std::int64_t{limit});
    EventPage page;
    page.next = after;
    while (st.step()) {
        page.events.push_back(feed_event_from(st, 0));
        page.next = page.events.back().seq;
    }
    return page;
}

}  // namespace haineko::queue::sql
