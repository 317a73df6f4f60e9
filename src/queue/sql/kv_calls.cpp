#include "queue/sql/kv_calls.hpp"

#include <charconv>

namespace haineko::queue::sql {

namespace {

// A whole number as incr keeps it ("-12", not "012" or "+1"), within 18 digits.
std::optional<std::int64_t> number_of(const std::string& value) {
    if (value.empty() || value.size() > 19) return std::nullopt;
    if (value.size() > 1 && (value[0] == '0' || (value[0] == '-' && value[1] == '0'))) return std::nullopt;
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc{} || p != value.data() + value.size() || value == "-") return std::nullopt;
    return n;
}

}  // namespace

std::optional<std::string> kv_get(Db& db, const std::string& key, Millis now) {
    auto& st = db.prepare("SELECT value, number FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)");
    st.bind_blob(1, key).bind(2, now);
    std::optional<std::string> out;
    if (st.step()) out = st.is_null(0) ? std::to_string(st.integer(1)) : st.text(0);
    st.reset();
    return out;
}

void kv_set(Db& db, const std::string& key, const std::string& value, std::optional<Millis> expires_at) {
    auto& st = db.prepare(
        "INSERT INTO kv(key, value, number, expires_at) VALUES(?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
        "value = excluded.value, number = excluded.number, expires_at = excluded.expires_at");
    st.bind_blob(1, key);
    if (auto n = number_of(value)) st.bind_null(2).bind(3, *n);
    else st.bind_blob(2, value).bind_null(3);
    st.bind(4, expires_at);
    st.run();
}

std::int64_t kv_incr(Db& db, const std::string& key, std::int64_t by, std::optional<Millis> expires_at, Millis now) {
    // An expired key starts again from 0 with the new expiry; a value that is no number
    // counts as 0.
    auto& st = db.prepare(
        "INSERT INTO kv(key, value, number, expires_at) VALUES(?1, NULL, ?2, ?3) ON CONFLICT(key) DO UPDATE SET "
        "number = CASE WHEN kv.expires_at IS NOT NULL AND kv.expires_at <= ?4 THEN ?2 "
        "ELSE coalesce(kv.number, 0) + ?2 END, value = NULL, "
        "expires_at = CASE WHEN kv.expires_at IS NOT NULL AND kv.expires_at <= ?4 THEN ?3 ELSE kv.expires_at END "
        "RETURNING number");
    st.bind_blob(1, key).bind(2, by).bind(3, expires_at).bind(4, now);
    if (!st.step()) throw Error(false, "INSERT INTO kv returned nothing");
    const std::int64_t n = st.integer(0);
    st.reset();
    return n;
}

void kv_del(Db& db, const std::string& key) {
    auto& st = db.prepare("DELETE FROM kv WHERE key = ?");
    st.bind_blob(1, key).run();
}

std::int64_t kv_expire(Db& db, Millis now) {
    auto& st = db.prepare("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?");
    st.bind(1, now).run();
    return db.changes();
}

}  // namespace haineko::queue::sql
