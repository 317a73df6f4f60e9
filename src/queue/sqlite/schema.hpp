// The embedded queue's tables, and what opening it does after a crash.
#pragma once
#include "queue/records.hpp"
#include "queue/sqlite/sqlite_db.hpp"

namespace haineko::queue::sqlite {

// WAL, synchronous=FULL, and the tables (created when missing). Throws Error when the
// file is not a queue of a version this program knows.
void prepare_schema(Db& db);

// Deliveries in flight when the process died are due again: their recipients are no
// longer in flight; one whose cancel or hold was asked for meanwhile is now cancelled or
// held (the attempt did not finish, so it did not succeed).
void recover_in_flight(Db& db, Millis now);

}  // namespace haineko::queue::sqlite
