#include "queue/postgres/event_numbers.hpp"

namespace haineko::queue::postgres {

namespace {
// Any number that no other program takes as its advisory lock on the same database.
constexpr const char* kNumberingLock = "SELECT pg_advisory_xact_lock(7243915584)";
}  // namespace

std::int64_t number_events(sql::Db& db) {
    // Asynchronous commit: a numbering lost in a crash is done again, with higher numbers.
    db.exec("BEGIN; SET LOCAL synchronous_commit = off");
    try {
        db.exec(kNumberingLock);
        auto& st = db.prepare(
            "UPDATE events e SET seq = t.s FROM (SELECT o.n, nextval('event_seq') AS s FROM "
            "(SELECT n FROM events WHERE seq IS NULL ORDER BY n) AS o) AS t WHERE e.n = t.n");
        st.run();
        const std::int64_t numbered = db.changes();
        db.exec("COMMIT");
        return numbered;
    } catch (...) {
        try {
            db.exec("ROLLBACK");
        } catch (...) {
        }
        throw;
    }
}

}  // namespace haineko::queue::postgres
