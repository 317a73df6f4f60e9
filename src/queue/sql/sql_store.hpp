// A queue store on any SQL database of the statement interface: every call that writes
// is a job for the writing Committer's thread (group commit); the calls that only read go
// to a second connection on its own thread, so that a long read never delays a commit.
// How due work is claimed is the database's own (SQLite: one process's in-flight mark;
// PostgreSQL: a node's lease).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "queue/sql/committer.hpp"
#include "queue/sql/delivery_calls.hpp"
#include "queue/sql/kv_calls.hpp"
#include "queue/sql/message_calls.hpp"
#include "queue/sql/webhook_calls.hpp"
#include "queue/store.hpp"

namespace haineko::queue::sql {

// A claim's recipients and, where the database reads them with the claim, their messages
// for the attempts (by key; each with the claimed recipients only).
struct Claimed {
    std::vector<DueRecipient> due;
    std::map<std::int64_t, NewMessage> loaded;
};

struct Claims {
    std::function<Claimed(Db&, Millis now, int limit)> claim_due;
    std::function<std::optional<Millis>(Db&)> next_due;
    // Who has what in flight, for the counts.
    std::function<std::vector<NodeLease>(Db&)> in_flight;
    // In the transaction that made work due (a new message, a retry or release): tells
    // the other processes (PostgreSQL: NOTIFY, heard at the commit). Null: nobody to tell.
    std::function<void(Db&)> announce;
};

class SqlStore : public Store {
public:
    // Writers besides the one that takes new messages; null: that writer does it all.
    struct MoreWriters {
        // Settles, actions and webhooks. Those never touch a row that an intake is writing,
        // so a database with row locks runs both at once, and a settle does not wait behind
        // a batch of new messages.
        std::unique_ptr<Db> deliveries;
        // Claims (and the look for the next due time), on a connection of their own: each
        // scheduler waits for its claim before it can start more deliveries, so a claim must
        // not queue behind a batch of settles and its commit.
        std::unique_ptr<Db> claims;
        Dialect claim_dialect;
    };

    SqlStore(std::unique_ptr<Db> writer, std::unique_ptr<Db> reader, const Dialect& write_dialect,
             const Dialect& read_dialect, Claims claims, MoreWriters more = {})
        : claims_(std::move(claims)),
          committer_(std::move(writer), Committer::Mode::write, write_dialect),
          reader_(std::move(reader), Committer::Mode::read, read_dialect),
          deliveries_(more.deliveries
                          ? std::make_unique<Committer>(std::move(more.deliveries), Committer::Mode::write, write_dialect)
                          : nullptr),
          claimer_(more.claims ? std::make_unique<Committer>(std::move(more.claims), Committer::Mode::write,
                                                             std::move(more.claim_dialect))
                               : nullptr) {}

    // Each call is a named lambda: GCC 12 mishandles lambda temporaries with captures in a
    // co_await expression.
    StoreStats stats() const override {
        StoreStats s{committer_.jobs(), committer_.batches()};
        for (const Committer* c : {deliveries_.get(), claimer_.get()}) {
            if (!c) continue;
            s.calls += c->jobs();
            s.commits += c->batches();
        }
        return s;
    }

    boost::asio::awaitable<Enqueued> enqueue(NewMessage message, std::optional<IdempotencyClaim> claim) override {
        auto call = [this, m = std::move(message), c = std::move(claim)](Db& db) {
            Enqueued e = sql::enqueue_message(db, m, c);
            if (e.kind == Enqueued::Kind::stored) announce(db);
            return e;
        };
        co_return co_await committer_.run<Enqueued>(std::move(call));
    }

    boost::asio::awaitable<std::optional<MessageState>> find(std::string id, std::optional<std::string> user) override {
        auto call = [id = std::move(id), user = std::move(user)](Db& db) { return sql::find_message(db, id, user); };
        co_return co_await reader_.run<std::optional<MessageState>>(std::move(call));
    }

    boost::asio::awaitable<MessagePage> list(ListQuery query) override {
        auto call = [q = std::move(query)](Db& db) { return sql::list_messages(db, q); };
        co_return co_await reader_.run<MessagePage>(std::move(call));
    }

    boost::asio::awaitable<ActResult> act(std::string id, std::optional<std::string> user, Action action,
                                   Millis now) override {
        auto call = [this, id = std::move(id), user = std::move(user), action, now](Db& db) {
            ActResult r = sql::act_on_message(db, id, user, action, now);
            if (action == Action::retry || action == Action::release) announce(db);
            return r;
        };
        co_return co_await writes().run<ActResult>(std::move(call));
    }

    boost::asio::awaitable<std::optional<std::string>> kv_get(std::string key, Millis now) override {
        auto call = [k = std::move(key), now](Db& db) { return sql::kv_get(db, k, now); };
        co_return co_await reader_.run<std::optional<std::string>>(std::move(call));
    }

    boost::asio::awaitable<void> kv_set(std::string key, std::string value, std::optional<Millis> expires_at) override {
        auto call = [k = std::move(key), v = std::move(value), expires_at](Db& db) {
            sql::kv_set(db, k, v, expires_at);
            return true;
        };
        co_await writes().run<bool>(std::move(call));
    }

    boost::asio::awaitable<std::int64_t> kv_incr(std::string key, std::int64_t by, std::optional<Millis> expires_at,
                                                 Millis now) override {
        auto call = [k = std::move(key), by, expires_at, now](Db& db) { return sql::kv_incr(db, k, by, expires_at, now); };
        co_return co_await writes().run<std::int64_t>(std::move(call));
    }

    boost::asio::awaitable<void> kv_del(std::string key) override {
        auto call = [k = std::move(key)](Db& db) {
            sql::kv_del(db, k);
            return true;
        };
        co_await writes().run<bool>(std::move(call));
    }

    boost::asio::awaitable<std::int64_t> kv_expire(Millis now) override {
        auto call = [now](Db& db) { return sql::kv_expire(db, now); };
        co_return co_await writes().run<std::int64_t>(std::move(call));
    }

    boost::asio::awaitable<QueueCounts> counts() override {
        auto call = [this](Db& db) {
            QueueCounts c = sql::count_queue(db);
            if (claims_.in_flight) c.in_flight = claims_.in_flight(db);
            return c;
        };
        co_return co_await reader_.run<QueueCounts>(std::move(call));
    }

    boost::asio::awaitable<std::int64_t> retry_all(Millis now) override {
        auto call = [this, now](Db& db) {
            const std::int64_t n = sql::retry_all_deferred(db, now);
            if (n > 0) announce(db);
            return n;
        };
        co_return co_await writes().run<std::int64_t>(std::move(call));
    }

    boost::asio::awaitable<EventPage> events(std::int64_t after, int limit) override {
        auto call = [after, limit](Db& db) { return sql::read_events(db, after, limit); };
        co_return co_await reader_.run<EventPage>(std::move(call));
    }

    boost::asio::awaitable<std::vector<DueRecipient>> claim_due(Millis now, int limit) override {
        auto call = [this, now, limit](Db& db) {
            Claimed claimed = claims_.claim_due(db, now, limit);
            if (!claimed.loaded.empty()) keep_loaded(std::move(claimed.loaded));
            return std::move(claimed.due);
        };
        co_return co_await claiming().run<std::vector<DueRecipient>>(std::move(call));
    }

    boost::asio::awaitable<std::optional<Millis>> next_due() override {
        auto call = [this](Db& db) { return claims_.next_due(db); };
        co_return co_await claiming().run<std::optional<Millis>>(std::move(call));
    }

    boost::asio::awaitable<std::optional<NewMessage>> load(std::int64_t message) override {
        // A claimed message was committed before its claim: any read batch sees it, and the
        // writer's thread is kept for writes.
        if (auto kept = take_loaded(message)) co_return kept;
        auto call = [message](Db& db) { return sql::load_message(db, message); };
        co_return co_await reader_.run<std::optional<NewMessage>>(std::move(call));
    }

    boost::asio::awaitable<void> settle(std::vector<Outcome> outcomes, std::vector<Bounce> bounces, Millis now) override {
        auto call = [o = std::move(outcomes), b = std::move(bounces), now](Db& db) {
            sql::settle(db, o, b, now);
            return Done{};
        };
        co_await writes().run<Done>(std::move(call));
    }

    boost::asio::awaitable<int> fan_out_webhooks(std::vector<WebhookTarget> targets, Millis now, int limit) override {
        auto call = [t = std::move(targets), now, limit](Db& db) { return sql::fan_out_webhooks(db, t, now, limit); };
        co_return co_await writes().run<int>(std::move(call));
    }

    boost::asio::awaitable<std::vector<WebhookJob>> claim_webhooks(Millis now, Millis lease, int limit) override {
        auto call = [now, lease, limit](Db& db) { return sql::claim_webhooks(db, now, lease, limit); };
        co_return co_await writes().run<std::vector<WebhookJob>>(std::move(call));
    }

    boost::asio::awaitable<void> settle_webhook(std::int64_t n, std::optional<Millis> next_attempt_at) override {
        auto call = [n, next_attempt_at](Db& db) {
            sql::settle_webhook(db, n, next_attempt_at);
            return Done{};
        };
        co_await writes().run<Done>(std::move(call));
    }

private:
    struct Done {};

    Committer& writes() { return deliveries_ ? *deliveries_ : committer_; }
    Committer& claiming() { return claimer_ ? *claimer_ : writes(); }

    // Kept from a claim whose batch then failed, or whose attempts never started (a stop):
    // such leftovers are dropped past this many, and loaded again if ever asked for.
    static constexpr std::size_t kMaxLoaded = 4096;

    void keep_loaded(std::map<std::int64_t, NewMessage> loaded) {
        std::lock_guard lock(loaded_mutex_);
        if (loaded_.size() + loaded.size() > kMaxLoaded) loaded_.clear();
        loaded_.merge(loaded);
    }

    std::optional<NewMessage> take_loaded(std::int64_t message) {
        std::lock_guard lock(loaded_mutex_);
        auto found = loaded_.find(message);
        if (found == loaded_.end()) return std::nullopt;
        std::optional<NewMessage> m = std::move(found->second);
        loaded_.erase(found);
        return m;
    }

    void announce(Db& db) {
        if (claims_.announce) claims_.announce(db);
    }

    // Before the committers: a job still run as they stop may use them.
    Claims claims_;
    std::mutex loaded_mutex_;
    std::map<std::int64_t, NewMessage> loaded_;
    Committer committer_;
    Committer reader_;
    std::unique_ptr<Committer> deliveries_;
    std::unique_ptr<Committer> claimer_;
};

}  // namespace haineko::queue::sql
