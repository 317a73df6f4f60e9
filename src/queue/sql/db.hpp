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
    // Runs a statement whose rows nobody reads. In a pipeline (Db::begin_pipeline) it is
    // only sent: its error surfaces at the next read or at end_pipeline.
    virtual void run() {
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
    // The same, for a statement whose best plan depends on its parameters and on the
    // tables' sizes (a join over an array of keys): a database that keeps plans plans
    // this one again at each call, since a plan kept from the first calls, when the tables
    // were small, is a full scan once they are large.
    virtual Statement& prepare_planned_each_call(const std::string& sql) { return prepare(sql); }
    // Resets every kept statement, so that none holds a read open past a job.
    virtual void reset_all() = 0;
    // Rows changed by the last statement (in a pipeline, once its answer is in).
    virtual std::int64_t changes() = 0;
    // From here, statements run for no rows (Statement::run, exec) are sent without waiting
    // for their answers, and a read waits for every answer before its own: a batch costs a
    // few round trips instead of one a statement. A database in the same process has
    // nothing to gain and ignores it.
    virtual void begin_pipeline() {}
    // Waits for every answer still due and throws the first error among them; after an
    // error the transaction it was in is rolled back. Statements run one by one again.
    virtual void end_pipeline() {}
    // The SQL that names the key of the message this connection inserted last, for
    // statements that follow the insert in a pipeline (they cannot wait to read it);
    // empty when the key must be read back.
    virtual std::string last_message_key() const { return {}; }
    // Whether this database takes row locks (SELECT ... FOR UPDATE): writers on several
    // connections at once.
    virtual bool locks_rows() const { return false; }
    // Still usable after an error (a network connection may have broken).
    virtual bool connected() const { return true; }
};

}  // namespace haineko::queue::sql
