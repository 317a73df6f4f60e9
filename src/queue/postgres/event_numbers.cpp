#include "queue/postgres/event_numbers.hpp"

#include "queue/sql/transaction.hpp"

namespace haineko::queue::postgres {

namespace {
// Any number that no other program takes as its advisory lock on the same database.
constexpr const char* kNumberingLock = "SELECT pg_advisory_xact_lock(7243915584)";
// At most this many a statement, so that the unnumbered events are read in order through
// their partial index (which then skips the entries of events numbered since) rather than
// all gathered and sorted; a batch's commit makes far fewer.
constexpr std::int64_t kNumberAtOnce = 2000;
}  // namespace

std::int64_t number_events(sql::Db& db) {
    // Asynchronous commit: a numbering lost in a crash is done again, with higher numbers.
    return sql::in_transaction(db, "BEGIN; SET LOCAL synchronous_commit = off", [&] {
        db.exec(kNumberingLock);
        std::int64_t numbered = 0, now = 0;
        do {
            db.prepare(
                  "UPDATE events e SET seq = t.s FROM (SELECT o.n, nextval('event_seq') AS s FROM "
                  "(SELECT n FROM events WHERE seq IS NULL ORDER BY n LIMIT ?) AS o) AS t WHERE e.n = t.n")
                .bind(1, kNumberAtOnce)
                .run();
            now = db.changes();
            numbered += now;
        } while (now == kNumberAtOnce);
        return numbered;
    });
}

}  // namespace haineko::queue::postgres
