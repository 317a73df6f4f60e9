#include "queue/sqlite/schema.hpp"

#include <string>

#include "queue/sqlite/rows.hpp"

namespace haineko::queue::sqlite {

namespace {

constexpr int kSchemaVersion = 1;

// Recipients are ordered as given (position); the due index holds only what the
// scheduler may claim, so a deep queue of held or finished mail costs it nothing.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS messages(
  n INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  user TEXT NOT NULL,
  status TEXT NOT NULL,
  message_id TEXT NOT NULL,
  from_addr TEXT NOT NULL,
  mail TEXT NOT NULL,
  subject TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  send_at INTEGER,
  tags TEXT NOT NULL,
  metadata TEXT NOT NULL,
  is_bounce INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_status ON messages(status, n);
CREATE INDEX IF NOT EXISTS messages_by_user ON messages(user, n);
CREATE TABLE IF NOT EXISTS recipients(
  message INTEGER NOT NULL,
  position INTEGER NOT NULL,
  rcpt TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  updated_at INTEGER NOT NULL,
  in_flight INTEGER NOT NULL DEFAULT 0,
  asked TEXT,
  route_mailer TEXT,
  route_host TEXT,
  route_port INTEGER,
  last_reply TEXT,
  PRIMARY KEY(message, position)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recipients_due ON recipients(next_attempt_at)
  WHERE in_flight = 0 AND status IN ('queued', 'deferred');
CREATE INDEX IF NOT EXISTS recipients_in_flight ON recipients(message) WHERE in_flight = 1;
CREATE INDEX IF NOT EXISTS recipients_pending ON recipients(status)
  WHERE status IN ('queued', 'deferred', 'held');
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  message INTEGER NOT NULL,
  rcpt TEXT,
  reply TEXT);
CREATE INDEX IF NOT EXISTS events_by_message ON events(message, seq);
CREATE TABLE IF NOT EXISTS idempotency(
  user TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  answer TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY(user, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhook_deliveries(
  n INTEGER PRIMARY KEY,
  webhook TEXT NOT NULL,
  seq INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  done INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(next_attempt_at);
CREATE TABLE IF NOT EXISTS cursors(
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL) WITHOUT ROWID;
)sql";

int user_version(Db& db) {
    auto& st = db.prepare("PRAGMA user_version");
    return st.step() ? static_cast<int>(st.integer(0)) : 0;
}

}  // namespace

void prepare_schema(Db& db) {
    // WAL: readers never wait for the writer, and a commit is one append and one fsync.
    auto& mode = db.prepare("PRAGMA journal_mode=WAL");
    if (!mode.step() || mode.text(0) != "wal") throw Error(SQLITE_CANTOPEN, "the queue cannot use WAL mode");
    mode.reset();
    db.exec("PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=OFF;");
    const int version = user_version(db);
    if (version > kSchemaVersion)
        throw Error(SQLITE_NOTADB, "the queue was written by a newer Haineko (schema " + std::to_string(version) + ")");
    db.exec("BEGIN IMMEDIATE");
    try {
        db.exec(kSchema);
        db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
        db.exec("COMMIT");
    } catch (...) {
        db.exec("ROLLBACK");
        throw;
    }
}

void recover_in_flight(Db& db, Millis now) {
    db.exec("BEGIN IMMEDIATE");
    try {
        std::vector<std::int64_t> touched;
        auto& asked = db.prepare(
            "SELECT message, position, rcpt, asked FROM recipients WHERE in_flight = 1 AND asked IS NOT NULL");
        struct Asked {
            std::int64_t message, position;
            std::string rcpt, asked;
        };
        std::vector<Asked> rows;
        while (asked.step()) rows.push_back({asked.integer(0), asked.integer(1), asked.text(2), asked.text(3)});
        asked.reset();
        for (const auto& r : rows) {
            const RcptStatus status = r.asked == "cancel" ? RcptStatus::cancelled : RcptStatus::held;
            set_recipient_status(db, r.message, r.position, status, now);
            add_event(db, now, name_of(status), r.message, r.rcpt, std::nullopt);
            touched.push_back(r.message);
        }
        db.prepare("UPDATE recipients SET in_flight = 0, asked = NULL WHERE in_flight = 1").run();
        for (auto message : touched) refresh_message_status(db, message);
        db.exec("COMMIT");
    } catch (...) {
        db.exec("ROLLBACK");
        throw;
    }
}

}  // namespace haineko::queue::sqlite
