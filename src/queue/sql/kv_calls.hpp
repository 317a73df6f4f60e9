// The plugins' key-value store in the queue's database (table kv): a value is kept as
// bytes, or, when it is a whole number, as a number, so that incr adds to it in one
// statement on either database (concurrent nodes never lose an increment).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "queue/records.hpp"
#include "queue/sql/db.hpp"

namespace haineko::queue::sql {

std::optional<std::string> kv_get(Db& db, const std::string& key, Millis now);
void kv_set(Db& db, const std::string& key, const std::string& value, std::optional<Millis> expires_at);
std::int64_t kv_incr(Db& db, const std::string& key, std::int64_t by, std::optional<Millis> expires_at, Millis now);
void kv_del(Db& db, const std::string& key);
std::int64_t kv_expire(Db& db, Millis now);

}  // namespace haineko::queue::sql
