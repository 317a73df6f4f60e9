// The shared queue on PostgreSQL: the same statements as the SQLite store (queue/sql),
// claims as leases of this node (lease_calls), a thread that renews them while the node
// lives, and connections that are made again when the database comes back.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/time.hpp"
#include "queue/postgres/event_numbers.hpp"
#include "queue/postgres/lease_calls.hpp"
#include "queue/postgres/pg_schema.hpp"
#include "queue/postgres/wake_listener.hpp"
#include "queue/sql/delivery_calls.hpp"
#include "queue/sql/sql_store.hpp"
#include "queue/store.hpp"

namespace haineko::queue {

namespace {

using sql::Db;

// A lease outlives any pause of a live node's renewals by far; a dead node's work is due
// again within this long.
constexpr Millis kLease = 60'000;
constexpr auto kRenewEvery = std::chrono::seconds(10);
// A dead node's leases are looked for this often (by the claims' clock), not at every claim.
constexpr Millis kExpiredEvery = 5'000;

enum class Role { write, read, claim };

sql::Dialect dialect(const std::string& url, Role role) {
    const bool read = role == Role::read;
    sql::Dialect d;
    // A claim's commit need not wait for the disk: a claim lost in a crash of the
    // database leaves its recipients due (delivered again, never lost), and any settle
    // that is kept was flushed after the claim it follows (the log is written in order).
    d.begin_write = role == Role::claim ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN";
    // Without savepoints, a batch is a few round trips whatever its size (committer.hpp).
    d.pipeline = true;
    d.max_batch = 256;
    // One snapshot for a whole batch of reads, which never takes a lock.
    d.begin_read = read ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
    d.reconnect = [url] { return std::make_unique<postgres::Db>(url); };
    if (role == Role::write) d.after_commit = [](Db& db) { postgres::number_events(db); };
    return d;
}

// Renews this node's leases on a connection of its own, so that a node busy with long
// deliveries (which claims nothing meanwhile) keeps them.
class LeaseKeeper {
public:
    LeaseKeeper(std::string url, std::string node) : url_(std::move(url)), node_(std::move(node)), thread_([this] { serve(); }) {}
    ~LeaseKeeper() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

private:
    void serve() {
        std::unique_ptr<postgres::Db> db;
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, kRenewEvery, [this] { return stopping_; })) {
            lock.unlock();
            try {
                if (!db || !db->connected()) db = std::make_unique<postgres::Db>(url_);
                postgres::renew_leases(*db, node_, now_millis() + kLease);
            } catch (const std::exception&) {
                db.reset();  // the database is away: the next turn connects again
            }
            lock.lock();
        }
    }

    std::string url_, node_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

class PostgresStore final : public sql::SqlStore {
public:
    PostgresStore(const std::string& url, const std::string& node, std::unique_ptr<postgres::Db> writer,
                  std::unique_ptr<postgres::Db> reader, MoreWriters more)
        : SqlStore(std::move(writer), std::move(reader), dialect(url, Role::write), dialect(url, Role::read),
                   claims(node), std::move(more)),
          url_(url), keeper_(url, node) {}

    StoreStats stats() const override {
        StoreStats s = SqlStore::stats();
        s.round_trips = postgres::round_trips();
        return s;
    }

    void on_new_work(std::function<void()> wake) override {
        listener_.reset();
        if (wake) listener_ = std::make_unique<postgres::WakeListener>(url_, std::move(wake));
    }

private:
    static sql::Claims claims(const std::string& node) {
        // Claims run on the claiming connection's thread only.
        auto last_look = std::make_shared<Millis>(0);
        return sql::Claims{[node, last_look](Db& db, Millis now, int limit) {
                               const bool expired = now - *last_look >= kExpiredEvery;
                               if (expired) *last_look = now;
                               return postgres::claim_due(db, node, now, now + kLease, limit, expired);
                           },
                           // Other nodes' leases run out unannounced: the scheduler's
                           // look every second finds them.
                           [](Db& db) { return sql::next_due(db); },
                           [](Db& db) { return postgres::in_flight_by_node(db); },
                           [](Db& db) { db.exec(std::string("NOTIFY ") + postgres::kWakeChannel); }};
    }

    std::string url_;
    LeaseKeeper keeper_;
    std::unique_ptr<postgres::WakeListener> listener_;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const StoreOptions& options) {
    try {
        auto writer = std::make_unique<postgres::Db>(options.url);
        postgres::prepare_schema(*writer);
        // This node's claims from before a restart: nobody else will finish them.
        sql::recover_in_flight(*writer, now_millis(), options.node_id, "BEGIN");
        postgres::number_events(*writer);
        auto reader = std::make_unique<postgres::Db>(options.url);
        sql::SqlStore::MoreWriters more{std::make_unique<postgres::Db>(options.url),
                                        std::make_unique<postgres::Db>(options.url), dialect(options.url, Role::claim)};
        return std::make_unique<PostgresStore>(options.url, options.node_id, std::move(writer), std::move(reader),
                                               std::move(more));
    } catch (const sql::Error& e) {
        throw StoreUnavailable(std::string("PostgreSQL: ") + e.what());
    }
}

}  // namespace haineko::queue
