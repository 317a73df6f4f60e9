#include "queue/postgres/event_numbers.hpp"

#include "queue/sql/transaction.hpp"

namespace haineko::queue::postgres {

namespace {
// Any number that no other program takes as its advisory lock on the same database.
constexpr const char* kNumberingLock = "SELECT pg_advisory_xact_lock(7243915584)";
}  // namespace

std::int64_t number_events(sql::Db& db) {
    // Asynchronous commit: a numbering lost in a crash is done again, with higher numbers.
    return sql::in_transaction(db, "BEGIN; SET LOCAL synchronous_commit = off", [&] {
        db.exec(kNumberingLock);
        db.prepare(
              "UPDATE events e SET seq = t.s FROM (SELECT o.n, nextval('event_seq') AS s FROM "
              "(SELECT n FROM events WHERE seq IS NULL ORDER BY n) AS o) AS t WHERE e.n = t.n")
            .run();
        return db.changes();
    });
}

}  // namespace haineko::queue::postgres
