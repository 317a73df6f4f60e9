// The embedded store: every call that writes is a job for the writing Committer's thread
// (group commit); the calls that only read go to a second connection on its own thread.
#include <chrono>
#include <filesystem>

#include "core/time.hpp"
#include "queue/sqlite/checkpointer.hpp"
#include "queue/sql/delivery_calls.hpp"
#include "queue/sql/sql_store.hpp"
#include "queue/sqlite/schema.hpp"
#include "queue/store.hpp"

namespace haineko::queue {

namespace {

namespace asio = boost::asio;
using sql::Committer;
using sql::Db;

class SqliteStore final : public sql::SqlStore {
public:
    SqliteStore(std::unique_ptr<sqlite::Db> writer, std::unique_ptr<sqlite::Db> reader,
                std::unique_ptr<sqlite::Db> checkpoints)
        : SqlStore(std::move(writer), std::move(reader), dialect(), dialect(),
                   sql::Claims{[](Db& db, Millis now, int limit) { return sql::Claimed{sql::claim_due(db, now, limit), {}}; },
                               [](Db& db) { return sql::next_due(db); }, nullptr, nullptr}),
          checkpointer_(std::move(checkpoints)) {}

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
        sql::recover_in_flight(*db, now_millis(), std::nullopt, "BEGIN IMMEDIATE");
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
