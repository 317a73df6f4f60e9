#include "queue/sql/delivery_calls.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include "queue/sql/columns.hpp"
#include "queue/sql/rows.hpp"
#include "queue/sql/transaction.hpp"

namespace haineko::queue::sql {

namespace {

// The recipient an outcome settles, by its key, while still in flight (not when a second
// outcome for one attempt comes). A key lookup has one plan whatever the tables' sizes.
constexpr const char* kInFlightRecipient = "WHERE message = ?3 AND position = ?6 AND rcpt = ?4 AND in_flight = 1";

// What a cancel or hold asked for during the attempt makes of the outcome ?1: a delivery
// stays one; anything else becomes what was asked.
constexpr const char* kSettledStatus =
    "(CASE WHEN asked IS NULL OR CAST(?1 AS TEXT) = 'delivered' THEN CAST(?1 AS TEXT) "
    "WHEN asked = 'cancel' THEN 'cancelled' WHEN asked = 'hold' AND ?1 = 'deferred' THEN 'held' ELSE ?1 END)";

// The event first, while the recipient's row still says what was asked; both statements
// read nothing back, so that a pipelined batch need not wait for them.
void write_outcome_event(Db& db, const Outcome& o, Millis now) {
    auto& st = db.prepare(std::string("INSERT INTO events(at, type, message, rcpt, reply) SELECT CAST(?2 AS BIGINT), ") +
                          kSettledStatus + ", message, rcpt, CAST(?5 AS TEXT) FROM recipients " + kInFlightRecipient);
    st.bind(1, name_of(o.status)).bind(2, now).bind(3, o.message).bind(4, o.rcpt).bind(5, reply_column(o.reply));
    st.bind(6, o.position).run();
}

void write_outcome(Db& db, const Outcome& o, Millis now) {
    auto& st = db.prepare(std::string("UPDATE recipients SET status = ") + kSettledStatus +
                          ", attempts = attempts + 1, next_attempt_at = CASE WHEN " + kSettledStatus +
                          " = 'deferred' THEN CAST(?7 AS BIGINT) ELSE NULL END, updated_at = ?2, in_flight = 0, "
                          "asked = NULL, route_mailer = coalesce(?8, route_mailer), route_host = coalesce(?9, route_host), "
                          "route_port = coalesce(CAST(?10 AS BIGINT), route_port), last_reply = coalesce(?5, last_reply) " +
                          kInFlightRecipient);
    st.bind(1, name_of(o.status)).bind(2, now).bind(3, o.message).bind(4, o.rcpt).bind(5, reply_column(o.reply));
    st.bind(6, o.position).bind(7, o.next_attempt_at);
    if (o.route) st.bind(8, o.route->mailer).bind(9, o.route->host).bind(10, std::int64_t{o.route->port});
    st.run();
}

}  // namespace

std::vector<DueRecipient> claim_due(Db& db, Millis now, int limit) {
    auto& st = db.prepare(
        "SELECT r.message, m.id, r.position, r.rcpt, r.attempts, m.created_at FROM recipients r "
        "JOIN messages m ON m.n = r.message WHERE r.in_flight = 0 AND r.status IN ('queued', 'deferred') "
        "AND r.next_attempt_at <= ? ORDER BY r.next_attempt_at LIMIT ?");
    st.bind(1, now).bind(2, std::int64_t{limit});
    std::vector<DueRecipient> due;
    std::vector<std::int64_t> positions;
    while (st.step()) {
        due.push_back({st.integer(0), st.text(1), st.text(3), static_cast<int>(st.integer(4)), st.integer(5),
                       st.integer(2)});
        positions.push_back(st.integer(2));
    }
    st.reset();
    auto& claim = db.prepare("UPDATE recipients SET in_flight = 1 WHERE message = ? AND position = ?");
    for (size_t i = 0; i < due.size(); ++i) {
        claim.reset();
        claim.bind(1, due[i].message).bind(2, positions[i]).run();
    }
    return due;
}

std::optional<Millis> next_due(Db& db) {
    auto& st = db.prepare(
        "SELECT min(next_attempt_at) FROM recipients WHERE in_flight = 0 AND status IN ('queued', 'deferred')");
    return st.step() ? st.optional_integer(0) : std::nullopt;
}

const char* const kMessageForAttempt =
    "id, \"user\", message_id, from_addr, mail, subject, created_at, send_at, is_bounce, coalesce(b.body, m.body), "
    "dsn_ret, dsn_envid";

const char* const kBodyJoin = "LEFT JOIN bodies b ON b.message = m.n";

NewMessage message_for_attempt(const Statement& st, int first) {
    NewMessage m;
    m.id = st.text(first);
    m.user = st.text(first + 1);
    m.message_id = st.text(first + 2);
    m.from = st.text(first + 3);
    m.mail = st.text(first + 4);
    m.subject = st.text(first + 5);
    m.created_at = st.integer(first + 6);
    m.send_at = st.optional_integer(first + 7);
    m.is_bounce = st.integer(first + 8) != 0;
    m.body = st.text(first + 9);
    m.dsn_ret = st.optional_text(first + 10);
    m.dsn_envid = st.optional_text(first + 11);
    return m;
}

std::optional<NewMessage> load_message(Db& db, std::int64_t message) {
    auto& st = db.prepare(std::string("SELECT ") + kMessageForAttempt + " FROM messages m " + kBodyJoin + " WHERE m.n = ?");
    st.bind(1, message);
    if (!st.step()) return std::nullopt;
    NewMessage m = message_for_attempt(st, 0);
    st.reset();
    auto& rcpts = db.prepare("SELECT rcpt, notify, orcpt FROM recipients WHERE message = ? ORDER BY position");
    rcpts.bind(1, message);
    while (rcpts.step()) {
        m.rcpts.push_back(rcpts.text(0));
        m.rcpt_dsn.push_back(RcptDsn{rcpts.optional_text(1), rcpts.optional_text(2)});
    }
    rcpts.reset();
    return m;
}

void settle(Db& db, const std::vector<Outcome>& outcomes, const std::vector<Bounce>& bounces, Millis now) {
    // Recipients, then messages, each in key order: an action locks a message's
    // recipients in that order too (message_calls.cpp), so the two never wait for each
    // other in a circle when an attempt's routes took its recipients out of order.
    std::vector<const Outcome*> in_order;
    for (const auto& o : outcomes) in_order.push_back(&o);
    std::stable_sort(in_order.begin(), in_order.end(), [](const Outcome* a, const Outcome* b) {
        return std::tie(a->message, a->position) < std::tie(b->message, b->position);
    });
    std::set<std::int64_t> touched;
    for (const Outcome* o : in_order) {
        write_outcome_event(db, *o, now);
        write_outcome(db, *o, now);
        touched.insert(o->message);
    }
    for (const auto& b : bounces) {
        insert_message(db, b.report);
        add_event(db, now, "dsn-sent", b.original, std::nullopt, std::nullopt);
    }
    for (auto message : touched) refresh_message_status(db, message);
}

void recover_in_flight(Db& db, Millis now, const std::optional<std::string>& node, const std::string& begin) {
    // Only this node's own claims when several nodes share the queue.
    const std::string own = node ? " AND lease_node = ?1" : "";
    sql::in_transaction(db, begin, [&] {
        std::vector<std::int64_t> touched;
        auto& asked = db.prepare(
            "SELECT message, position, rcpt, asked FROM recipients WHERE in_flight = 1 AND asked IS NOT NULL" + own);
        if (node) asked.bind(1, *node);
        struct Asked {
            std::int64_t message, position;
            std::string rcpt, asked;
        };
        std::vector<Asked> rows;
        while (asked.step()) rows.push_back({asked.integer(0), asked.integer(1), asked.text(2), asked.text(3)});
        asked.reset();
        for (const auto& r : rows) {
            const RcptStatus status = r.asked == "cancel" ? RcptStatus::cancelled : RcptStatus::held;
            set_recipient_status(db, r.message, r.position, status, now);
            add_event(db, now, name_of(status), r.message, r.rcpt, std::nullopt);
            touched.push_back(r.message);
        }
        auto& release = db.prepare("UPDATE recipients SET in_flight = 0, asked = NULL WHERE in_flight = 1" + own);
        if (node) release.bind(1, *node);
        release.run();
        for (auto message : touched) refresh_message_status(db, message);
    });
}

}  // namespace haineko::queue::sql
