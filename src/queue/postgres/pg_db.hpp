// The queue's statements on PostgreSQL through libpq: one blocking connection, used by one
// store thread at a time (the event loops never call it). Statements are written as for
// SQLite ("?" and "?N"); each is prepared on the server once per connection as "$N".
// Values travel as text, blobs as binary (bytea), results as text. In a pipeline
// (libpq's pipeline mode) the statements whose rows nobody reads are only sent, and their
// answers are read together at the next read or at the pipeline's end.
#pragma once
#include <libpq-fe.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/sql/db.hpp"

namespace haineko::queue::postgres {

// sql with "?" and "?N" written as "$N" (a bare "?" is one more than the highest number
// so far, as in SQLite); quoted strings and identifiers are left alone. count is the
// highest number used.
std::string numbered_parameters(std::string_view sql, int& count);

// Whether an error leaves the database unable to serve now (the connection, the server's
// resources or its shutdown, a standby, a serialization failure or deadlock to retry)
// rather than a statement that is wrong. sqlstate may be empty (no server reply).
bool is_unavailable_state(std::string_view sqlstate);

class Db;

class Statement final : public sql::Statement {
public:
    // An empty name: sent with its text at each call, and planned for its parameters then.
    Statement(Db& db, std::string name, std::string text, int parameters);
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() override;

    using sql::Statement::bind;
    Statement& bind(int index, std::int64_t value) override;
    Statement& bind(int index, std::string_view text) override;
    Statement& bind_blob(int index, std::string_view bytes) override;
    Statement& bind_null(int index) override;

    bool step() override;
    void run() override;
    void reset() override;

    std::int64_t integer(int column) const override;
    std::string text(int column) const override;
    bool is_null(int column) const override;

private:
    friend class Db;
    void execute();
    // Sends it (prepared first when this connection has not prepared it yet).
    void send();
    Statement& set(int index, std::optional<std::string> value, int format);

    Db& db_;
    std::string name_, text_;
    bool prepared_ = false;
    std::vector<std::optional<std::string>> values_;
    std::vector<int> formats_;
    PGresult* result_ = nullptr;
    int row_ = -1;
};

class Db final : public sql::Db {
public:
    // Connects (a postgresql:// URL or key=value string). Throws sql::Error, unavailable.
    explicit Db(const std::string& conninfo);
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db() override;

    void exec(const std::string& sql) override;
    Statement& prepare(const std::string& sql) override;
    Statement& prepare_planned_each_call(const std::string& sql) override;
    void reset_all() override;
    std::int64_t changes() override;
    void begin_pipeline() override;
    void end_pipeline() override;
    std::string last_message_key() const override { return pipelining_ ? "currval('messages_n_seq')" : ""; }
    bool locks_rows() const override { return true; }

    bool connected() const override { return PQstatus(conn_) == CONNECTION_OK; }
    PGconn* handle() const { return conn_; }

private:
    friend class Statement;

    // A command sent in the pipeline whose answer is not read yet; preparing: the
    // statement this command prepares (not prepared after all if it fails).
    struct Sent {
        std::string what;
        Statement* preparing = nullptr;
    };

    // Reads the answers of everything sent so far, in order; throws the first error (the
    // rest then stay due, each aborted by the server until the pipeline's end). With
    // keep_last, the last one's result is the caller's.
    PGresult* read_sent(bool keep_last);
    // Reads one command's answer: its result, then libpq's end of it.
    PGresult* next_answer();
    // Too many answers waiting in the server's buffer would have it stop reading while
    // this thread still writes: past this many, they are read first.
    void read_when_many();
    void note_changes(const PGresult* res);

    PGconn* conn_ = nullptr;
    std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
    std::map<std::string, std::unique_ptr<Statement>, std::less<>> planned_each_call_;
    std::int64_t changes_ = 0;
    bool pipelining_ = false;
    std::vector<Sent> sent_;
    std::size_t read_ = 0;  // of sent_
};

// Requests sent to the server by every connection of the process so far (each statement
// run, prepared or executed): the store's round trips, for the bench.
std::uint64_t round_trips();

// Throws sql::Error for a result that is not a success (res may be null: no reply).
void check(PGconn* conn, const PGresult* res, std::string_view what);

}  // namespace haineko::queue::postgres
