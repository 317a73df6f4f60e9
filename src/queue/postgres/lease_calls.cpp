#include "queue/postgres/lease_calls.hpp"

#include <algorithm>
#include <string>

#include "queue/sql/delivery_calls.hpp"

namespace haineko::queue::postgres {

namespace {

// Each kind is found in order through its own partial index (recipients_due,
// recipients_leased), which stops at the limit and skips the entries of rows claimed or
// settled since; one query for both (an OR) would read every such entry each time.
constexpr const char* kDue = "in_flight = 0 AND status IN ('queued', 'deferred') AND next_attempt_at <= ?1 "
                             "ORDER BY next_attempt_at";
constexpr const char* kExpired = "in_flight = 1 AND lease_until < ?1 ORDER BY lease_until";

struct Claimed {
    DueRecipient due;
    Millis at;
    RcptDsn dsn;
};

void claim(sql::Db& db, const char* which, const std::string& node, Millis now, Millis lease_until, int limit,
           std::vector<Claimed>& out) {
    auto& st = db.prepare(std::string("WITH due AS (SELECT message, position FROM recipients WHERE ") + which +
                          " LIMIT ?2 FOR UPDATE SKIP LOCKED) "
                          "UPDATE recipients r SET in_flight = 1, lease_node = ?3, lease_until = ?4 FROM due, messages m "
                          "WHERE r.message = due.message AND r.position = due.position AND m.n = r.message "
                          "RETURNING r.message, m.id, r.rcpt, r.attempts, m.created_at, r.next_attempt_at, r.notify, r.orcpt, "
                          "r.position");
    st.bind(1, now).bind(2, std::int64_t{limit}).bind(3, node).bind(4, lease_until);
    while (st.step())
        out.push_back({{st.integer(0), st.text(1), st.text(2), static_cast<int>(st.integer(3)), st.integer(4),
                        st.integer(8)},
                       st.integer(5), RcptDsn{st.optional_text(6), st.optional_text(7)}});
    st.reset();
}

}  // namespace

// The claimed messages in one statement (each looked up by its key: a plan kept from when
// the table was small must not scan it whole), where loading each as its attempt starts
// would cost two round trips a message.
void load_messages(sql::Db& db, const std::vector<Claimed>& rows, sql::Claimed& out) {
    std::string keys = "{";
    for (const auto& r : rows) keys += (keys.size() > 1 ? "," : "") + std::to_string(r.due.message);
    keys += "}";
    auto& st = db.prepare_planned_each_call(std::string("SELECT m.n, ") + sql::kMessageForAttempt +
                          " FROM unnest(CAST(? AS BIGINT[])) AS k(key) JOIN messages m ON m.n = k.key " + sql::kBodyJoin);
    st.bind(1, keys);
    while (st.step()) out.loaded.emplace(st.integer(0), sql::message_for_attempt(st, 1));
    st.reset();
    for (const auto& r : rows) {
        auto found = out.loaded.find(r.due.message);
        if (found == out.loaded.end()) continue;
        found->second.rcpts.push_back(r.due.rcpt);
        found->second.rcpt_dsn.push_back(r.dsn);
    }
}

sql::Claimed claim_due(sql::Db& db, const std::string& node, Millis now, Millis lease_until, int limit, bool expired) {
    std::vector<Claimed> rows;
    if (expired) claim(db, kExpired, node, now, lease_until, limit, rows);
    const int left = limit - static_cast<int>(rows.size());
    if (left > 0) claim(db, kDue, node, now, lease_until, left, rows);
    // RETURNING keeps no order: the scheduler groups by message, oldest due first.
    std::stable_sort(rows.begin(), rows.end(), [](const Claimed& a, const Claimed& b) { return a.at < b.at; });
    sql::Claimed out;
    if (!rows.empty()) load_messages(db, rows, out);
    for (auto& r : rows) out.due.push_back(std::move(r.due));
    return out;
}

std::vector<NodeLease> in_flight_by_node(sql::Db& db) {
    auto& st = db.prepare(
        "SELECT lease_node, count(*), max(lease_until) FROM recipients WHERE in_flight = 1 "
        "GROUP BY lease_node ORDER BY lease_node");
    std::vector<NodeLease> out;
    while (st.step()) out.push_back({st.text(0), st.integer(1), st.integer(2)});
    st.reset();
    return out;
}

std::int64_t renew_leases(sql::Db& db, const std::string& node, Millis lease_until) {
    // Rows a writer holds right now are being claimed or settled: waiting for them would
    // hold up that writer behind every lease this takes.
    auto& st = db.prepare(
        "UPDATE recipients r SET lease_until = ?2 FROM (SELECT message, position FROM recipients "
        "WHERE in_flight = 1 AND lease_node = ?1 FOR UPDATE SKIP LOCKED) AS l "
        "WHERE r.message = l.message AND r.position = l.position");
    st.bind(1, node).bind(2, lease_until).run();
    return db.changes();
}

}  // namespace haineko::queue::postgres
