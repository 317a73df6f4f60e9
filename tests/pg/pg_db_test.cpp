// postgres::Db against a real PostgreSQL 15, started for the run by the ctest fixture
// (tests/tools/pg_fixture.py). Without it the tests fail: a missing peer is an error,
// never a skip.
#include <gtest/gtest.h>

#include <string>

#include "pg_url.hpp"
#include "queue/postgres/pg_db.hpp"

using haineko::queue::postgres::Db;
namespace sql = haineko::queue::sql;

namespace {

class PgDbTest : public ::testing::Test {
protected:
    void SetUp() override {
        db = std::make_unique<Db>(test_url());
        db->exec("DROP TABLE IF EXISTS pg_db_test; CREATE TABLE pg_db_test(n BIGSERIAL PRIMARY KEY, "
                 "name TEXT, size BIGINT, body BYTEA, flag BOOLEAN)");
    }
    std::unique_ptr<Db> db;
};

}  // namespace

TEST_F(PgDbTest, RowsGoInAndComeBack) {
    const std::string bytes("a\0b\xff\r\n.", 7);  // not UTF-8, a NUL inside
    auto& insert = db->prepare("INSERT INTO pg_db_test(name, size, body, flag) VALUES(?, ?, ?, ?) RETURNING n");
    insert.bind(1, "first").bind(2, std::int64_t{42}).bind_blob(3, bytes).bind(4, "true");
    ASSERT_TRUE(insert.step());
    const auto n = insert.integer(0);
    EXPECT_GT(n, 0);
    insert.reset();
    insert.bind(1, std::optional<std::string>{}).bind(2, std::optional<std::int64_t>{}).bind_blob(3, "").bind(4, "f");
    ASSERT_TRUE(insert.step());
    insert.reset();

    auto& read = db->prepare("SELECT name, size, body, flag FROM pg_db_test WHERE n >= ?1 ORDER BY n");
    read.bind(1, n);
    ASSERT_TRUE(read.step());
    EXPECT_EQ(read.text(0), "first");
    EXPECT_EQ(read.integer(1), 42);
    EXPECT_EQ(read.text(2), bytes);
    EXPECT_EQ(read.integer(3), 1);
    ASSERT_TRUE(read.step());
    EXPECT_TRUE(read.is_null(0));
    EXPECT_EQ(read.optional_text(0), std::nullopt);
    EXPECT_EQ(read.optional_integer(1), std::nullopt);
    EXPECT_EQ(read.text(2), "");
    EXPECT_FALSE(read.is_null(2));
    EXPECT_EQ(read.integer(3), 0);
    EXPECT_FALSE(read.step());
}

TEST_F(PgDbTest, ChangesCountsTheLastStatement) {
    db->exec("INSERT INTO pg_db_test(name) VALUES('a'), ('b'), ('c')");
    EXPECT_EQ(db->changes(), 3);
    auto& update = db->prepare("UPDATE pg_db_test SET size = ? WHERE name <> ?");
    update.bind(1, std::int64_t{7}).bind(2, "a").run();
    EXPECT_EQ(db->changes(), 2);
}

TEST_F(PgDbTest, AWrongStatementIsABugNotUnavailability) {
    try {
        db->prepare("SELECT no_such_column FROM pg_db_test").step();
        FAIL() << "no error";
    } catch (const sql::Error& e) {
        EXPECT_FALSE(e.unavailable()) << e.what();
        EXPECT_NE(std::string(e.what()).find("no_such_column"), std::string::npos) << e.what();
    }
    // The connection goes on after a failed statement (outside a transaction).
    db->exec("SELECT 1");
    EXPECT_TRUE(db->connected());
}

TEST_F(PgDbTest, TransactionsAndSavepointsUndoWhatTheySay) {
    db->exec("BEGIN");
    db->exec("INSERT INTO pg_db_test(name) VALUES('kept')");
    db->exec("SAVEPOINT job");
    db->exec("INSERT INTO pg_db_test(name) VALUES('undone')");
    db->exec("ROLLBACK TO job; RELEASE job");
    db->exec("COMMIT");
    auto& count = db->prepare("SELECT count(*), min(name) FROM pg_db_test");
    ASSERT_TRUE(count.step());
    EXPECT_EQ(count.integer(0), 1);
    EXPECT_EQ(count.text(1), "kept");
}

TEST_F(PgDbTest, ALostConnectionIsUnavailable) {
    Db other(test_url());
    auto& pid = other.prepare("SELECT pg_backend_pid()");
    ASSERT_TRUE(pid.step());
    const auto backend = pid.integer(0);
    pid.reset();
    auto& kill = db->prepare("SELECT pg_terminate_backend(?)");
    kill.bind(1, backend).run();
    try {
        other.exec("SELECT 1");
        FAIL() << "the terminated connection still answered";
    } catch (const sql::Error& e) {
        EXPECT_TRUE(e.unavailable()) << e.what();
    }
    EXPECT_FALSE(other.connected());
}

TEST(PgDbConnect, AServerThatIsNotThereIsUnavailable) {
    try {
        Db db("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
        FAIL() << "connected to nothing";
    } catch (const sql::Error& e) {
        EXPECT_TRUE(e.unavailable());
        EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
    }
}
