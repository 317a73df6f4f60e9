// What the queue's statements need of a database connection, whichever it is (SQLite,
// PostgreSQL): prepared statements kept by their text, parameters by position from 1
// ("?" numbered as SQLite numbers it, or "?N"), rows stepped through one at a time, and
// errors as exceptions that say whether the store is unavailable (answer 503) or the
// statement is wrong (a bug).
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace haineko::queue::sql {

class Error : public std::runtime_error {
public:
    Error(bool unavailable, const std::string& what) : std::runtime_error(what), unavailable_(unavailable) {}
    // The database cannot take this now (a full disk, a lost connection): try later.
    bool unavailable() const { return unavailable_; }

private:
    bool unavailable_;
};

class Statement {
public:
    virtual ~Statement() = default;

    // Binds by position, from 1. A null optional binds NULL.
    virtual Statement& bind(int index, std::int64_t value) = 0;
    virtual Statement& bind(int index, std::string_view text) = 0;
    virtual Statement& bind_blob(int index, std::string_view bytes) = 0;
    virtual Statement& bind_null(int index) = 0;
    Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::optional<std::int64_t>& value) {
        return value ? bind(index, *value) : bind_null(index);
    }
    Statement& bind(int index, const std::optional<std::string>& text) {
        return text ? bind(index, std::string_view(*text)) : bind_null(index);
    }

    // One step: true while a row is ready, false when done. Throws on failure.
    virtual bool step() = 0;
    // Steps to the end (a statement that returns no rows).
    void run() {
        while (step()) {
        }
    }
    // Ready for the next use, bindings cleared.
    virtual void reset() = 0;

    virtual std::int64_t integer(int column) const = 0;
    virtual std::string text(int column) const = 0;  // "" for NULL; a blob's bytes as they are
    virtual bool is_null(int column) const = 0;
    std::optional<std::int64_t> optional_integer(int column) const {
        if (is_null(column)) return std::nullopt;
        return integer(column);
    }
    std::optional<std::string> optional_text(int column) const {
        if (is_null(column)) return std::nullopt;
        return text(column);
    }
};

class Db {
public:
    virtual ~Db() = default;
    // Runs statements without parameters or results (schema, BEGIN/COMMIT, SAVEPOINT).
    virtual void exec(const std::string& sql) = 0;
    // The prepared statement for this text, reset and ready. Kept for the next call.
    virtual Statement& prepare(const std::string& sql) = 0;
    // Resets every kept statement, so that none holds a read open past a job.
    virtual void reset_all() = 0;
    // Rows changed by the last statement.
    virtual std::int64_t changes() const = 0;
    // Still usable after an error (a network connection may have broken).
    virtual bool connected() const { return true; }
};

}  // namespace haineko::queue::sql
