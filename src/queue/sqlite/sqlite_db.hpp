// A thin RAII layer over the SQLite C API: one connection, prepared statements kept by
// their text, and errors as exceptions that carry SQLite's code, so that the store can
// tell "the disk is full" (answer 503) from a bug.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "queue/sql/db.hpp"

namespace haineko::queue::sqlite {

bool is_unavailable(int code);

class Error : public sql::Error {
public:
    Error(int code, const std::string& what) : sql::Error(is_unavailable(code), what), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

class Statement final : public sql::Statement {
public:
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() override;

    using sql::Statement::bind;
    Statement& bind(int index, std::int64_t value) override;
    Statement& bind(int index, std::string_view text) override;
    Statement& bind_blob(int index, std::string_view bytes) override;
    Statement& bind_null(int index) override;

    bool step() override;  // throws Error
    void reset() override;

    std::int64_t integer(int column) const override;
    std::string text(int column) const override;
    bool is_null(int column) const override;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_;
};

class Db final : public sql::Db {
public:
    // Opens (creating it if needed) the database file. Throws Error.
    explicit Db(const std::string& path);
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db() override;

    // One or more statements without results (schema, pragmas, BEGIN/COMMIT).
    void exec(const std::string& sql) override;
    Statement& prepare(const std::string& sql) override;
    void reset_all() override;
    std::int64_t changes() override;
    std::int64_t last_insert_rowid() const;
    sqlite3* handle() const { return db_; }

private:
    sqlite3* db_ = nullptr;
    std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
};

// Throws Error for a result code that is not OK, ROW or DONE.
void check(sqlite3* db, int rc, std::string_view what);

// is_unavailable(code): true for the errors that mean "the store cannot take a write now"
// (full disk, I/O error, locked, read-only, out of memory), as opposed to a bug in a
// statement.

}  // namespace haineko::queue::sqlite
