// The PostgreSQL store's text handling that needs no server: statements written for SQLite
// ("?", "?N") become PostgreSQL's "$N" with the same numbering, and which SQLSTATEs mean
// "unavailable, try later" rather than a wrong statement.
#include <gtest/gtest.h>

#include "queue/postgres/pg_db.hpp"

using haineko::queue::postgres::is_unavailable_state;
using haineko::queue::postgres::numbered_parameters;

TEST(PgTextTest, QuestionMarksAreNumberedAsSqliteNumbersThem) {
    int n = 0;
    EXPECT_EQ(numbered_parameters("SELECT 1", n), "SELECT 1");
    EXPECT_EQ(n, 0);
    EXPECT_EQ(numbered_parameters("INSERT INTO t VALUES(?, ?, ?)", n), "INSERT INTO t VALUES($1, $2, $3)");
    EXPECT_EQ(n, 3);
    // "?1" reuses the first; a bare "?" after "?3" is 4.
    EXPECT_EQ(numbered_parameters("UPDATE m SET s = ? WHERE n = ? AND s <> ?1", n),
              "UPDATE m SET s = $1 WHERE n = $2 AND s <> $1");
    EXPECT_EQ(n, 2);
    EXPECT_EQ(numbered_parameters("SELECT ?3, ?", n), "SELECT $3, $4");
    EXPECT_EQ(n, 4);
    EXPECT_EQ(numbered_parameters("(?1 IS NULL OR \"user\" = ?1) AND (?2 IS NULL)", n),
              "($1 IS NULL OR \"user\" = $1) AND ($2 IS NULL)");
    EXPECT_EQ(n, 2);
}

TEST(PgTextTest, QuotedTextKeepsItsQuestionMarks) {
    int n = 0;
    EXPECT_EQ(numbered_parameters("SELECT '?', \"a?b\", ? FROM t WHERE x = 'it''s ?'", n),
              "SELECT '?', \"a?b\", $1 FROM t WHERE x = 'it''s ?'");
    EXPECT_EQ(n, 1);
}

TEST(PgTextTest, UnavailableStates) {
    for (const char* s : {"08006", "08001", "53100", "57P01", "57P03", "58030", "40001", "40P01", "25006", ""})
        EXPECT_TRUE(is_unavailable_state(s)) << s;
    for (const char* s : {"42601", "42P01", "23505", "22P02", "0A000"}) EXPECT_FALSE(is_unavailable_state(s)) << s;
}
