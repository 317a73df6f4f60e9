// The queue's store: where accepted messages live until every recipient is settled. The
// intakes, the /v1 API and the scheduler use this interface only, so a PostgreSQL store
// can stand in for the embedded SQLite one with no change above it.
//
// Every call is awaited on the caller's event loop and never blocks it: a store does its
// work on its own thread (SQLite) or non-blocking (PostgreSQL). A call that writes
// completes only after its commit is on stable storage; calls that arrive together may
// share one commit. When the store cannot write (a full disk, a store that is down) the
// call throws StoreUnavailable, and nothing of it was kept.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "queue/records.hpp"

namespace haineko::queue {

class StoreUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// How well commits are shared: calls served, and the commits (fsyncs) they took.
struct StoreStats {
    std::uint64_t calls = 0;
    std::uint64_t commits = 0;
    std::uint64_t round_trips = 0;  // to a database server (PostgreSQL); 0 for a file
};

class Store {
public:
    virtual ~Store() = default;

    virtual StoreStats stats() const = 0;

    // wake (callable from any thread) is called when another process made work due (a
    // shared store); a store that is not shared never calls it. A null wake stops the
    // calls: none is under way once this returns.
    virtual void on_new_work(std::function<void()> wake) { (void)wake; }

    // Keeps a new message with its recipients (queued, due at send_at or now) and its
    // "accepted" event. With a claim, a request already seen for the same user and key
    // within 24 hours is a replay (same body hash: its answer) or a conflict, and nothing
    // new is kept.
    virtual boost::asio::awaitable<Enqueued> enqueue(NewMessage message,
                                                     std::optional<IdempotencyClaim> claim) = 0;

    // One message with its recipients and events; nullopt when unknown, or when user is
    // given and the message is someone else's.
    virtual boost::asio::awaitable<std::optional<MessageState>> find(std::string id,
                                                                     std::optional<std::string> user) = 0;
    virtual boost::asio::awaitable<MessagePage> list(ListQuery query) = 0;
    virtual boost::asio::awaitable<ActResult> act(std::string id, std::optional<std::string> user, Action action,
                                                  Millis now) = 0;
    virtual boost::asio::awaitable<QueueCounts> counts() = 0;
    // Every deferred recipient not in flight becomes due now (hainekoctl queue flush);
    // returns how many.
    virtual boost::asio::awaitable<std::int64_t> retry_all(Millis now) = 0;
    virtual boost::asio::awaitable<EventPage> events(std::int64_t after, int limit) = 0;

    // For the scheduler: up to limit recipients due at now, oldest due first, now in
    // flight; and when the next unclaimed one falls due (nullopt: none is pending).
    virtual boost::asio::awaitable<std::vector<DueRecipient>> claim_due(Millis now, int limit) = 0;
    virtual boost::asio::awaitable<std::optional<Millis>> next_due() = 0;
    // The message's bytes and envelope sender, for an attempt.
    virtual boost::asio::awaitable<std::optional<NewMessage>> load(std::int64_t message) = 0;
    // Ends attempts: each recipient delivered, deferred or bounced (or cancelled or held,
    // when that was asked for while it was in flight), with its event; the bounce reports
    // are queued in the same commit, each with a dsn-sent event on the original.
    virtual boost::asio::awaitable<void> settle(std::vector<Outcome> outcomes, std::vector<Bounce> bounces,
                                                Millis now) = 0;

    // Webhooks. Each new event becomes a delivery for every target that wants its type
    // (in the same order as the feed); returns how many events were looked at. Deliveries
    // are durable: a restart keeps them.
    virtual boost::asio::awaitable<int> fan_out_webhooks(std::vector<WebhookTarget> targets, Millis now,
                                                          int limit) = 0;
    // Up to limit deliveries due at now, each leased (not due again) until now + lease.
    virtual boost::asio::awaitable<std::vector<WebhookJob>> claim_webhooks(Millis now, Millis lease, int limit) = 0;
    // Done (delivered, or given up) when next_attempt_at is nullopt; else tried again then.
    virtual boost::asio::awaitable<void> settle_webhook(std::int64_t n, std::optional<Millis> next_attempt_at) = 0;

    // The plugins' key-value store (haineko.kv): expires_at in ms since the epoch, none
    // for no expiry. A key past its expiry is absent to every call.
    virtual boost::asio::awaitable<std::optional<std::string>> kv_get(std::string key, Millis now) = 0;
    virtual boost::asio::awaitable<void> kv_set(std::string key, std::string value, std::optional<Millis> expires_at) = 0;
    virtual boost::asio::awaitable<std::int64_t> kv_incr(std::string key, std::int64_t by,
                                                         std::optional<Millis> expires_at, Millis now) = 0;
    virtual boost::asio::awaitable<void> kv_del(std::string key) = 0;
    // Removes the keys expired by now; returns how many.
    virtual boost::asio::awaitable<std::int64_t> kv_expire(Millis now) = 0;
};

struct StoreOptions {
    std::string path;     // SQLite: the database file
    std::string url;      // PostgreSQL: postgresql://user:pass@host:port/db
    std::string node_id;  // PostgreSQL: whose leases a claim takes
};

// The embedded store: ROOT/var/queue.db in WAL mode with synchronous=FULL. Opening it makes
// every delivery that was in flight when the process last died due again. Throws
// StoreUnavailable when the file cannot be opened or is not a queue.
std::unique_ptr<Store> open_sqlite_store(const StoreOptions& options);

// The shared store: several nodes on one PostgreSQL database. Creates or migrates the
// tables (once, however many nodes start together), and makes this node's own claims from
// before a restart due again; other nodes' claims run out with their leases. Throws
// StoreUnavailable when the database cannot be reached or holds a newer schema.
std::unique_ptr<Store> open_postgres_store(const StoreOptions& options);

}  // namespace haineko::queue
