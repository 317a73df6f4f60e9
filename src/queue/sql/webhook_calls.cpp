#include "queue/sql/webhook_calls.hpp"

#include <algorithm>

#include "queue/sql/rows.hpp"

namespace haineko::queue::sql {

namespace {

constexpr const char* kCursor = "webhooks";

std::int64_t last_event(Db& db) {
    auto& st = db.prepare("SELECT coalesce(max(seq), 0) FROM events");
    return st.step() ? st.integer(0) : 0;
}

void set_cursor(Db& db, std::int64_t seq) {
    auto& st = db.prepare(
        "INSERT INTO cursors(name, seq) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq");
    st.bind(1, kCursor).bind(2, seq).run();
}

// Where fanning out stopped. A first look starts after the newest event: turning
// webhooks on does not replay history.
std::int64_t cursor(Db& db) {
    auto& st = db.prepare("SELECT seq FROM cursors WHERE name = ?");
    st.bind(1, kCursor);
    if (st.step()) return st.integer(0);
    st.reset();
    const std::int64_t start = last_event(db);
    set_cursor(db, start);
    return start;
}

bool wants(const WebhookTarget& t, const std::string& type) {
    return t.events.empty() || std::find(t.events.begin(), t.events.end(), type) != t.events.end();
}

}  // namespace

int fan_out_webhooks(Db& db, const std::vector<WebhookTarget>& targets, Millis now, int limit) {
    if (targets.empty()) {
        const std::int64_t last = last_event(db);
        if (cursor(db) != last) set_cursor(db, last);  // nothing written while nothing happens
        return 0;
    }
    auto& events = db.prepare("SELECT seq, type FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
    events.bind(1, cursor(db)).bind(2, std::int64_t{limit});
    std::vector<std::pair<std::int64_t, std::string>> rows;
    while (events.step()) rows.emplace_back(events.integer(0), events.text(1));
    events.reset();
    auto& add = db.prepare("INSERT INTO webhook_deliveries(webhook, seq, next_attempt_at) VALUES(?, ?, ?)");
    for (const auto& [seq, type] : rows)
        for (const auto& t : targets)
            if (wants(t, type)) {
                add.reset();
                add.bind(1, t.url).bind(2, seq).bind(3, now).run();
            }
    if (!rows.empty()) set_cursor(db, rows.back().first);
    return static_cast<int>(rows.size());
}

std::vector<WebhookJob> claim_webhooks(Db& db, Millis now, Millis lease, int limit) {
    auto& st = db.prepare(
        "SELECT d.n, d.webhook, d.attempts, e.seq, e.at, e.type, m.id, e.rcpt, e.reply, m.tags, m.metadata "
        "FROM webhook_deliveries d JOIN events e ON e.seq = d.seq JOIN messages m ON m.n = e.message "
        "WHERE d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.n LIMIT ?");
    st.bind(1, now).bind(2, std::int64_t{limit});
    std::vector<WebhookJob> jobs;
    while (st.step()) {
        WebhookJob j;
        j.n = st.integer(0);
        j.url = st.text(1);
        j.attempts = static_cast<int>(st.integer(2));
        j.event = feed_event_from(st, 3);
        jobs.push_back(std::move(j));
    }
    st.reset();
    auto& leased = db.prepare("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE n = ?");
    for (const auto& j : jobs) {
        leased.reset();
        leased.bind(1, now + lease).bind(2, j.n).run();
    }
    return jobs;
}

void settle_webhook(Db& db, std::int64_t n, const std::optional<Millis>& next_attempt_at) {
    if (!next_attempt_at) {
        auto& done = db.prepare("DELETE FROM webhook_deliveries WHERE n = ?");
        done.bind(1, n).run();
        return;
    }
    auto& again = db.prepare("UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE n = ?");
    again.bind(1, *next_attempt_at).bind(2, n).run();
}

}  // namespace haineko::queue::sql
