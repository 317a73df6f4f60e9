// The embedded store: every call that writes is a job for the writing Committer's thread
// (group commit); the calls that only read go to a second connection on its own thread.
#include <chrono>
#include <filesystem>

#include "queue/sqlite/checkpointer.hpp"
#include "queue/sql/committer.hpp"
#include "queue/sql/delivery_calls.hpp"
#include "queue/sql/message_calls.hpp"
#include "queue/sqlite/schema.hpp"
#include "queue/sql/webhook_calls.hpp"
#include "queue/store.hpp"

namespace haineko::queue {

namespace {

namespace asio = boost::asio;
using sql::Committer;
using sql::Db;

struct Done {};

Millis now_millis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class SqliteStore final : public Store {
public:
    SqliteStore(std::unique_ptr<sqlite::Db> writer, std::unique_ptr<sqlite::Db> reader,
                std::unique_ptr<sqlite::Db> checkpoints)
        : committer_(std::move(writer), Committer::Mode::write, dialect()),
          reader_(std::move(reader), Committer::Mode::read, dialect()),
          checkpointer_(std::move(checkpoints)) {}

    StoreStats stats() const override { return StoreStats{committer_.jobs(), committer_.batches()}; }

    // Each call is a named lambda: GCC 12 mishandles lambda temporaries with captures in a
    // co_await expression.
    asio::awaitable<Enqueued> enqueue(NewMessage message, std::optional<IdempotencyClaim> claim) override {
        auto call = [m = std::move(message), c = std::move(claim)](Db& db) { return sql::enqueue_message(db, m, c); };
        co_return co_await committer_.run<Enqueued>(std::move(call));
    }

    asio::awaitable<std::optional<MessageState>> find(std::string id, std::optional<std::string> user) override {
        auto call = [id = std::move(id), user = std::move(user)](Db& db) { return sql::find_message(db, id, user); };
        co_return co_await reader_.run<std::optional<MessageState>>(std::move(call));
    }

    asio::awaitable<MessagePage> list(ListQuery query) override {
        auto call = [q = std::move(query)](Db& db) { return sql::list_messages(db, q); };
        co_return co_await reader_.run<MessagePage>(std::move(call));
    }

    asio::awaitable<ActResult> act(std::string id, std::optional<std::string> user, Action action,
                                   Millis now) override {
        auto call = [id = std::move(id), user = std::move(user), action, now](Db& db) {
            return sql::act_on_message(db, id, user, action, now);
        };
        co_return co_await committer_.run<ActResult>(std::move(call));
    }

    asio::awaitable<QueueCounts> counts() override {
        auto call = [](Db& db) { return sql::count_queue(db); };
        co_return co_await reader_.run<QueueCounts>(std::move(call));
    }

    asio::awaitable<std::int64_t> retry_all(Millis now) override {
        auto call = [now](Db& db) { return sql::retry_all_deferred(db, now); };
        co_return co_await committer_.run<std::int64_t>(std::move(call));
    }

    asio::awaitable<EventPage> events(std::int64_t after, int limit) override {
        auto call = [after, limit](Db& db) { return sql::read_events(db, after, limit); };
        co_return co_await reader_.run<EventPage>(std::move(call));
    }

    asio::awaitable<std::vector<DueRecipient>> claim_due(Millis now, int limit) override {
        auto call = [now, limit](Db& db) { return sql::claim_due(db, now, limit); };
        co_return co_await committer_.run<std::vector<DueRecipient>>(std::move(call));
    }

    asio::awaitable<std::optional<Millis>> next_due() override {
        auto call = [](Db& db) { return sql::next_due(db); };
        co_return co_await committer_.run<std::optional<Millis>>(std::move(call));
    }

    asio::awaitable<std::optional<NewMessage>> load(std::int64_t message) override {
        auto call = [message](Db& db) { return sql::load_message(db, message); };
        co_return co_await committer_.run<std::optional<NewMessage>>(std::move(call));
    }

    asio::awaitable<void> settle(std::vector<Outcome> outcomes, std::vector<Bounce> bounces, Millis now) override {
        auto call = [o = std::move(outcomes), b = std::move(bounces), now](Db& db) {
            sql::settle(db, o, b, now);
            return Done{};
        };
        co_await committer_.run<Done>(std::move(call));
    }

    asio::awaitable<int> fan_out_webhooks(std::vector<WebhookTarget> targets, Millis now, int limit) override {
        auto call = [t = std::move(targets), now, limit](Db& db) { return sql::fan_out_webhooks(db, t, now, limit); };
        co_return co_await committer_.run<int>(std::move(call));
    }

    asio::awaitable<std::vector<WebhookJob>> claim_webhooks(Millis now, Millis lease, int limit) override {
        auto call = [now, lease, limit](Db& db) { return sql::claim_webhooks(db, now, lease, limit); };
        co_return co_await committer_.run<std::vector<WebhookJob>>(std::move(call));
    }

    asio::awaitable<void> settle_webhook(std::int64_t n, std::optional<Millis> next_attempt_at) override {
        auto call = [n, next_attempt_at](Db& db) {
            sql::settle_webhook(db, n, next_attempt_at);
            return Done{};
        };
        co_await committer_.run<Done>(std::move(call));
    }

private:
    // A write that failed for want of space (a full disk, a file-size limit) left the WAL
    // as long as it could grow. Once its frames are checkpointed into the database, the
    // next transaction starts writing the WAL from its beginning, into space it already
    // has, so small commits (the outcome of a delivery) can go on while large ones are
    // refused.
    static sql::Dialect dialect() {
        sql::Dialect d;
        d.after_failure = [](Db& db) {
            sqlite3_wal_checkpoint_v2(static_cast<sqlite::Db&>(db).handle(), nullptr, SQLITE_CHECKPOINT_RESTART,
                                      nullptr, nullptr);
        };
        return d;
    }

    Committer committer_;
    Committer reader_;
    sqlite::Checkpointer checkpointer_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const StoreOptions& options) {
    try {
        const auto dir = std::filesystem::path(options.path).parent_path();
        if (!dir.empty() && !std::filesystem::is_directory(dir))
            throw StoreUnavailable("the queue's directory " + dir.string() + " does not exist");
        auto db = std::make_unique<sqlite::Db>(options.path);
        sqlite::prepare_schema(*db);
        sqlite::recover_in_flight(*db, now_millis());
        db->exec("PRAGMA wal_autocheckpoint=" + std::to_string(sqlite::kFallbackAutocheckpoint));
        // Each job of a batch runs in a savepoint, so every page it touches is copied to
        // the statement journal first. On disk (the default past 64 KiB) that was two
        // thirds of the writer's write calls, some 13 per message; in memory it is a copy.
        db->exec("PRAGMA temp_store=MEMORY");
        auto reader = std::make_unique<sqlite::Db>(options.path);
        reader->exec("PRAGMA query_only=1; PRAGMA busy_timeout=5000;");
        auto checkpoints = std::make_unique<sqlite::Db>(options.path);
        checkpoints->exec("PRAGMA busy_timeout=0; SELECT count(*) FROM sqlite_master;");
        return std::make_unique<SqliteStore>(std::move(db), std::move(reader), std::move(checkpoints));
    } catch (const sqlite::Error& e) {
        throw StoreUnavailable(options.path + ": " + e.what());
    }
}

}  // namespace haineko::queue
