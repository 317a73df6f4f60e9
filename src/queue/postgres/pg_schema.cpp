#include "queue/postgres/pg_schema.hpp"

#include <string>

#include "queue/sql/transaction.hpp"

namespace haineko::queue::postgres {

namespace {

// 1: the first shared queue (the SQLite queue's schema 3, with leases). 2: the bodies of
// new messages in a table of their own, so that a status update copies a small row (an
// older message keeps its own in messages.body, which new ones leave empty).
constexpr int kSchemaVersion = 3;  // 3: kv, the plugins' key-value store

// Any number that no other program takes as its advisory lock on the same database.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7243915583)";

// As the SQLite queue's tables, with what several nodes need: a recipient in flight
// carries the node that claimed it and until when (lease_node, lease_until); the pending
// counts are a view rather than trigger-kept rows, which every node's commit would
// otherwise queue behind; an event gets its feed number (seq) only after its commit, from
// event_numbers.cpp, so that numbers become visible in their order.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS messages(
  n BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  "user" TEXT NOT NULL,
  status TEXT NOT NULL,
  message_id TEXT NOT NULL,
  from_addr TEXT NOT NULL,
  mail TEXT NOT NULL,
  subject TEXT NOT NULL,
  size BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  send_at BIGINT,
  tags TEXT NOT NULL,
  metadata TEXT NOT NULL,
  is_bounce BIGINT NOT NULL,
  body BYTEA NOT NULL,
  dsn_ret TEXT,
  dsn_envid TEXT);
CREATE INDEX IF NOT EXISTS messages_by_status ON messages(status, n);
CREATE INDEX IF NOT EXISTS messages_by_user ON messages("user", n);
CREATE TABLE IF NOT EXISTS bodies(
  message BIGINT PRIMARY KEY,
  body BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS recipients(
  message BIGINT NOT NULL,
  position BIGINT NOT NULL,
  rcpt TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  updated_at BIGINT NOT NULL,
  in_flight BIGINT NOT NULL DEFAULT 0,
  lease_node TEXT,
  lease_until BIGINT,
  asked TEXT,
  route_mailer TEXT,
  route_host TEXT,
  route_port BIGINT,
  last_reply TEXT,
  notify TEXT,
  orcpt TEXT,
  PRIMARY KEY(message, position));
CREATE INDEX IF NOT EXISTS recipients_due ON recipients(next_attempt_at)
  WHERE in_flight = 0 AND status IN ('queued', 'deferred');
CREATE INDEX IF NOT EXISTS recipients_leased ON recipients(lease_until) WHERE in_flight = 1;
CREATE INDEX IF NOT EXISTS recipients_pending_by_route
  ON recipients(coalesce(route_mailer, ''), coalesce(route_host, ''), message)
  WHERE status IN ('queued', 'deferred', 'held');
CREATE TABLE IF NOT EXISTS events(
  n BIGSERIAL PRIMARY KEY,
  seq BIGINT UNIQUE,
  at BIGINT NOT NULL,
  type TEXT NOT NULL,
  message BIGINT NOT NULL,
  rcpt TEXT,
  reply TEXT);
CREATE SEQUENCE IF NOT EXISTS event_seq;
CREATE INDEX IF NOT EXISTS events_unnumbered ON events(n) WHERE seq IS NULL;
CREATE INDEX IF NOT EXISTS events_by_message ON events(message, n);
CREATE TABLE IF NOT EXISTS idempotency(
  "user" TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  answer TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY("user", key));
CREATE TABLE IF NOT EXISTS webhook_deliveries(
  n BIGSERIAL PRIMARY KEY,
  webhook TEXT NOT NULL,
  seq BIGINT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  done BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(next_attempt_at);
CREATE OR REPLACE VIEW pending_counts AS
  SELECT coalesce(route_mailer, '') AS route_mailer, coalesce(route_host, '') AS route_host, status,
         count(*) AS count
  FROM recipients WHERE status IN ('queued', 'deferred', 'held') GROUP BY 1, 2, 3;
CREATE TABLE IF NOT EXISTS cursors(
  name TEXT PRIMARY KEY,
  seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS kv(
  key BYTEA PRIMARY KEY,
  value BYTEA,
  number BIGINT,
  expires_at BIGINT);
CREATE INDEX IF NOT EXISTS kv_expiry ON kv(expires_at) WHERE expires_at IS NOT NULL;
)sql";

}  // namespace

void prepare_schema(Db& db) {
    sql::in_transaction(db, "BEGIN", [&] {
        // Nodes that start together wait here for the first one's migration, then find it done.
        db.exec(kMigrationLock);
        db.exec("CREATE TABLE IF NOT EXISTS haineko_schema(version BIGINT NOT NULL)");
        auto& read = db.prepare("SELECT max(version) FROM haineko_schema");
        const auto version = read.step() ? read.optional_integer(0).value_or(0) : 0;
        read.reset();
        if (version > kSchemaVersion)
            throw sql::Error(false, "the queue was written by a newer Haineko (schema " + std::to_string(version) + ")");
        if (version < kSchemaVersion) {
            db.exec(kSchema);
            db.exec("DELETE FROM haineko_schema");
            db.exec("INSERT INTO haineko_schema(version) VALUES(" + std::to_string(kSchemaVersion) + ")");
        }
    });
}

}  // namespace haineko::queue::postgres
