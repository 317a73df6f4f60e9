#include "queue/sqlite/schema.hpp"

#include <string>

#include "queue/sql/rows.hpp"
#include "queue/sql/transaction.hpp"

namespace haineko::queue::sqlite {

namespace {

// 1: the first queue. 2: pending_counts and its triggers, and the route index. 3: the
// DSN parameters of a message (RET, ENVID) and of each recipient (NOTIFY, ORCPT). 4: the
// bodies of new messages in a table of their own (an older message keeps its own in
// messages.body, which new ones leave empty). 5: kv, the plugins' key-value store.
constexpr int kSchemaVersion = 5;

// Recipients are ordered as given (position); the due index holds only what the
// scheduler may claim, so a deep queue of held or finished mail costs it nothing.
// pending_counts keeps GET /v1/queue's counts (per route and status) up to date in the
// same transactions as the recipients, through triggers, so that reading them costs the
// same for a million pending recipients as for ten. The pending test is written as ORs,
// not IN (...): with an IN list in the trigger or in this partial index, SQLite 3.40 ran
// every UPDATE of a recipient some fifteen times slower (measured: 7,000 against 119,000
// settled recipients a second). pending_counts_moved has no WHEN clause for the same
// reason; its statements' own conditions suffice.
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
  body BLOB NOT NULL,
  dsn_ret TEXT,
  dsn_envid TEXT);
CREATE INDEX IF NOT EXISTS messages_by_status ON messages(status, n);
CREATE INDEX IF NOT EXISTS messages_by_user ON messages(user, n);
CREATE TABLE IF NOT EXISTS bodies(
  message INTEGER PRIMARY KEY,
  body BLOB NOT NULL);
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
  notify TEXT,
  orcpt TEXT,
  PRIMARY KEY(message, position)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recipients_due ON recipients(next_attempt_at)
  WHERE in_flight = 0 AND status IN ('queued', 'deferred');
CREATE INDEX IF NOT EXISTS recipients_in_flight ON recipients(message) WHERE in_flight = 1;
CREATE INDEX IF NOT EXISTS recipients_pending_by_route
  ON recipients(coalesce(route_mailer, ''), coalesce(route_host, ''), message)
  WHERE (status = 'queued' OR status = 'deferred' OR status = 'held');
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
CREATE TABLE IF NOT EXISTS pending_counts(
  route_mailer TEXT NOT NULL,
  route_host TEXT NOT NULL,
  status TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY(route_mailer, route_host, status)) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS pending_counts_in AFTER INSERT ON recipients
  WHEN (new.status = 'queued' OR new.status = 'deferred' OR new.status = 'held')
BEGIN
  INSERT INTO pending_counts VALUES(coalesce(new.route_mailer, ''), coalesce(new.route_host, ''), new.status, 1)
    ON CONFLICT DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER IF NOT EXISTS pending_counts_out AFTER DELETE ON recipients
  WHEN (old.status = 'queued' OR old.status = 'deferred' OR old.status = 'held')
BEGIN
  UPDATE pending_counts SET count = count - 1 WHERE route_mailer = coalesce(old.route_mailer, '')
    AND route_host = coalesce(old.route_host, '') AND status = old.status;
END;
CREATE TRIGGER IF NOT EXISTS pending_counts_moved AFTER UPDATE OF status, route_mailer, route_host ON recipients
BEGIN
  UPDATE pending_counts SET count = count - 1 WHERE (old.status = 'queued' OR old.status = 'deferred' OR old.status = 'held')
    AND route_mailer = coalesce(old.route_mailer, '') AND route_host = coalesce(old.route_host, '')
    AND status = old.status;
  INSERT INTO pending_counts
    SELECT coalesce(new.route_mailer, ''), coalesce(new.route_host, ''), new.status, 1
    WHERE (new.status = 'queued' OR new.status = 'deferred' OR new.status = 'held')
    ON CONFLICT DO UPDATE SET count = count + 1;
END;
CREATE TABLE IF NOT EXISTS cursors(
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv(
  key BLOB PRIMARY KEY,
  value BLOB,
  number INTEGER,
  expires_at INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expiry ON kv(expires_at) WHERE expires_at IS NOT NULL;
)sql";

int user_version(Db& db) {
    auto& st = db.prepare("PRAGMA user_version");
    return st.step() ? static_cast<int>(st.integer(0)) : 0;
}

// A queue from before pending_counts: its counts start from one scan, and the
// triggers keep them from then on.
void count_pending_once(Db& db) {
    db.exec("DROP INDEX IF EXISTS recipients_pending; DELETE FROM pending_counts;"
            "INSERT INTO pending_counts SELECT coalesce(route_mailer, ''), coalesce(route_host, ''), status, count(*) "
            "FROM recipients WHERE status IN ('queued', 'deferred', 'held') GROUP BY 1, 2, 3");
}

void add_column_if_missing(Db& db, const std::string& table, const std::string& column) {
    auto& info = db.prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
    info.bind(1, table).bind(2, column);
    const bool present = info.step();
    info.reset();
    if (!present) db.exec("ALTER TABLE " + table + " ADD COLUMN " + column + " TEXT");
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
    sql::in_transaction(db, "BEGIN IMMEDIATE", [&] {
        // A queue from before version 3 has its tables already; they get the new columns.
        if (version > 0 && version < 3) {
            add_column_if_missing(db, "messages", "dsn_ret");
            add_column_if_missing(db, "messages", "dsn_envid");
            add_column_if_missing(db, "recipients", "notify");
            add_column_if_missing(db, "recipients", "orcpt");
        }
        db.exec(kSchema);
        if (version < 2) count_pending_once(db);
        db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    });
}

}  // namespace haineko::queue::sqlite
