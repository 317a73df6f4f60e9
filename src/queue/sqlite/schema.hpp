// The embedded queue's tables, and what opening it does after a crash.
#pragma once
#include "queue/records.hpp"
#include "queue/sqlite/sqlite_db.hpp"

namespace haineko::queue::sqlite {

// WAL, synchronous=FULL, and the tables (created when missing). Throws Error when the
// file is not a queue of a version this program knows.
void prepare_schema(Db& db);


}  // namespace haineko::queue::sqlite
