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

namespace haineko::queue::sqlite {

class Error : public std::runtime_error {
public:
    Error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

class Statement {
public:
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    // Binds by position, from 1. A null optional binds NULL.
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::optional<std::int64_t>& value);
    Statement& bind(int index, const std::optional<std::string>& text);
    Statement& bind_blob(int index, std::string_view bytes);
    Statement& bind_null(int index);

    // One step: true while a row is ready, false when done. Throws Error on failure.
    bool step();
    // Steps to the end (a statement that returns no rows).
    void run();
    // Ready for the next use, bindings cleared.
    void reset();

    std::int64_t integer(int column) const;
    std::optional<std::int64_t> optional_integer(int column) const;
    std::string text(int column) const;  // "" for NULL
    std::optional<std::string> optional_text(int column) const;
    bool is_null(int column) const;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_;
};

class Db {
public:
    // Opens (creating it if needed) the database file. Throws Error.
    explicit Db(const std::string& path);
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db();

    // Runs one or more statements without results (schema, pragmas, BEGIN/COMMIT).
    void exec(const std::string& sql);
    // The prepared statement for this text, reset and ready. Kept for the next call.
    Statement& prepare(const std::string& sql);
    // Resets every kept statement, so that none holds a read open past a job.
    void reset_all();
    std::int64_t last_insert_rowid() const;
    int changes() const;
    sqlite3* handle() const { return db_; }

private:
    sqlite3* db_ = nullptr;
    std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
};

// Throws Error for a result code that is not OK, ROW or DONE.
void check(sqlite3* db, int rc, std::string_view what);

// True for the errors that mean "the store cannot take a write now" (full disk, I/O
// error, locked, read-only, out of memory), as opposed to a bug in a statement.
bool is_unavailable(int code);

}  // namespace haineko::queue::sqlite
