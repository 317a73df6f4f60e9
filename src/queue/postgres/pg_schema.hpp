// The shared queue's tables on PostgreSQL, created or migrated at start under a schema
// version table. An advisory lock makes a migration run once when several nodes start
// together.
#pragma once
#include "queue/postgres/pg_db.hpp"

namespace haineko::queue::postgres {

// Throws sql::Error (not unavailable) when the database holds a newer schema.
void prepare_schema(Db& db);

}  // namespace haineko::queue::postgres
