// The embedded queue store against a temporary file: the contract every store keeps
// (tests/store/store_contract.hpp), and what only SQLite does (older files, the
// committer's full disk and shared commits).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "queue/sqlite/sqlite_db.hpp"
#include "queue/store.hpp"
#include "store_contract.hpp"

using namespace haineko::queue;
namespace asio = boost::asio;

namespace {

class TempDir {
public:
    TempDir() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() / ("haineko-store-" + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const char* name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

class SqliteStoreTest : public ::testing::Test {
protected:
    TempDir dir;
    std::unique_ptr<Store> store = open_sqlite_store({dir.file("queue.db"), "", ""});

    void reopen() {
        store.reset();
        store = open_sqlite_store({dir.file("queue.db"), "", ""});
    }

    // Closes the store, makes its file an older queue with sql, and opens it again.
    void reopen_after(const std::string& sql) {
        store.reset();
        {
            haineko::queue::sqlite::Db db(dir.file("queue.db"));
            db.exec(sql);
        }
        reopen();
    }

    // Every message with a recipient due, as an attempt loads it, by queue id.
    std::map<std::string, NewMessage> load_every_due() {
        std::map<std::string, NewMessage> loaded;
        for (const auto& d : await(store->claim_due(kT0 + 1000, 10))) {
            auto m = await(store->load(d.message));
            if (m) loaded.emplace(d.id, std::move(*m));
        }
        return loaded;
    }
};

}  // namespace

namespace {
std::optional<TempDir> current_dir;
}  // namespace

std::unique_ptr<Store> open_store_under_test(bool fresh) {
    if (fresh || !current_dir) current_dir.emplace();
    return open_sqlite_store({current_dir->file("queue.db"), "", ""});
}

void forget_store_under_test() { current_dir.reset(); }

// The counts are kept by triggers: every change of status or route moves them.
// A queue written before the counts were kept (schema 1) is counted once when opened.
TEST_F(SqliteStoreTest, AnOlderQueueIsCountedWhenOpened) {
    await(store->enqueue(message("m", {"a@example.org", "b@example.org"}), std::nullopt));
    reopen_after("DELETE FROM pending_counts; PRAGMA user_version=1");
    auto c = await(store->counts());
    EXPECT_EQ(c.queued, 2);
    EXPECT_EQ(c.pending, 1);
}

// A queue of schema 2 (no DSN columns) gets them when opened, and keeps its messages.
TEST_F(SqliteStoreTest, ASchemaTwoQueueGetsTheDsnColumns) {
    await(store->enqueue(message("old", {"a@example.org"}), std::nullopt));
    reopen_after("ALTER TABLE messages DROP COLUMN dsn_ret; ALTER TABLE messages DROP COLUMN dsn_envid;"
                 "ALTER TABLE recipients DROP COLUMN notify; ALTER TABLE recipients DROP COLUMN orcpt;"
                 "PRAGMA user_version=2");
    auto m = message("new", {"b@example.org"});
    m.dsn_envid = "E";
    await(store->enqueue(m, std::nullopt));
    const auto loaded = load_every_due();
    ASSERT_EQ(loaded.size(), 2u);
    EXPECT_EQ(loaded.at("old").dsn_envid, std::nullopt);
    EXPECT_EQ(loaded.at("new").dsn_envid, "E");
}

// A queue of schema 3 kept each body in its message's row; opened now, those messages are
// delivered with their bodies, and new ones keep theirs apart.
TEST_F(SqliteStoreTest, ASchemaThreeQueueKeepsItsBodies) {
    auto old = message("old", {"a@example.org"});
    old.body = "Subject: old\r\n\r\nkept in the row\r\n";
    await(store->enqueue(old, std::nullopt));
    reopen_after("UPDATE messages SET body = (SELECT body FROM bodies WHERE message = n); DROP TABLE bodies;"
                 "PRAGMA user_version=3");
    auto fresh = message("new", {"b@example.org"});
    fresh.body = "Subject: new\r\n\r\nkept apart\r\n";
    await(store->enqueue(fresh, std::nullopt));
    const auto loaded = load_every_due();
    ASSERT_EQ(loaded.size(), 2u);
    EXPECT_EQ(loaded.at("old").body, old.body);
    EXPECT_EQ(loaded.at("new").body, fresh.body);
    haineko::queue::sqlite::Db db(dir.file("queue.db"));
    auto& apart = db.prepare("SELECT count(*) FROM bodies");
    ASSERT_TRUE(apart.step());
    EXPECT_EQ(apart.integer(0), 1);
}

TEST(SqliteStoreOpen, AMissingDirectoryIsUnavailable) {
    EXPECT_THROW(open_sqlite_store({"/nonexistent/haineko/queue.db", "", ""}), StoreUnavailable);
}

TEST(SqliteStoreOpen, AFileThatIsNotADatabaseIsUnavailable) {
    TempDir dir;
    { std::ofstream(dir.file("queue.db")) << std::string(4096, 'x'); }
    EXPECT_THROW(open_sqlite_store({dir.file("queue.db"), "", ""}), StoreUnavailable);
}

#include "queue/sql/committer.hpp"
#include "queue/sql/message_calls.hpp"
#include "queue/sqlite/schema.hpp"

// A full disk, as SQLite meets it (SQLITE_FULL): the call that could not be kept says so
// with StoreUnavailable, and what was kept before stays.
TEST(SqliteCommitter, AFullDiskIsUnavailableAndLosesNothingKept) {
    TempDir dir;
    auto db = std::make_unique<haineko::queue::sqlite::Db>(dir.file("queue.db"));
    haineko::queue::sqlite::prepare_schema(*db);
    db->exec("PRAGMA max_page_count = 64");
    haineko::queue::sql::Committer committer(std::move(db));
    auto enqueue = [&](const std::string& id, size_t size) {
        auto m = message(id, {"a@example.org"});
        m.body.assign(size, 'x');
        auto call = [m](haineko::queue::sql::Db& d) { return haineko::queue::sql::enqueue_message(d, m, {}); };
        return committer.run<Enqueued>(std::move(call));
    };
    EXPECT_EQ(await(enqueue("small", 1000)).kind, Enqueued::Kind::stored);
    EXPECT_THROW(await(enqueue("huge", 1'000'000)), StoreUnavailable);
    auto find = [&](const std::string& id) {
        auto call = [id](haineko::queue::sql::Db& d) { return haineko::queue::sql::find_message(d, id, {}); };
        return committer.run<std::optional<MessageState>>(std::move(call));
    };
    EXPECT_TRUE(await(find("small")));
    EXPECT_FALSE(await(find("huge")));
}

// Calls that wait while a commit is under way all go into the next one: a first call
// holds the store's thread, and the 200 that queue meanwhile share one commit.
TEST(SqliteCommitter, CallsThatWaitTogetherShareOneCommit) {
    TempDir dir;
    auto db = std::make_unique<haineko::queue::sqlite::Db>(dir.file("queue.db"));
    haineko::queue::sqlite::prepare_schema(*db);
    haineko::queue::sql::Committer committer(std::move(db));
    asio::io_context io;
    int stored = 0;
    auto slow = [](haineko::queue::sql::Db&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return 0;
    };
    asio::co_spawn(io, committer.run<int>(slow), asio::detached);
    io.poll();  // the slow call is queued (and taken) first
    for (int i = 0; i < 200; ++i) {
        auto m = message("m" + std::to_string(i), {"a@example.org"});
        auto call = [m](haineko::queue::sql::Db& d) { return haineko::queue::sql::enqueue_message(d, m, {}); };
        asio::co_spawn(io, committer.run<Enqueued>(std::move(call)), [&](std::exception_ptr e, Enqueued r) {
            if (!e && r.kind == Enqueued::Kind::stored) ++stored;
        });
    }
    io.run();
    EXPECT_EQ(stored, 200);
    EXPECT_EQ(committer.jobs(), 201u);
    EXPECT_LE(committer.batches(), 3u);
}
