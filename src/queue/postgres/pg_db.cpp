#include "queue/postgres/pg_db.hpp"

#include <atomic>
#include <cstdlib>

namespace haineko::queue::postgres {

namespace {

constexpr Oid kByteaOid = 17;

std::atomic<std::uint64_t> requests{0};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// libpq's messages run over several lines; a log line is one.
std::string trimmed_message(const char* text) {
    std::string s;
    for (const char* p = text ? text : ""; *p; ++p) {
        const bool space = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
        if (space && (s.empty() || s.back() == ' ')) continue;
        s += space ? ' ' : *p;
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

}  // namespace

std::string numbered_parameters(std::string_view sql, int& count) {
    std::string out;
    count = 0;
    char quote = 0;  // inside '...' or "..."
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (quote) {
            out += c;
            if (c == quote) quote = 0;  // a doubled quote closes and reopens: same result
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            out += c;
            continue;
        }
        if (c != '?') {
            out += c;
            continue;
        }
        std::size_t j = i + 1;
        while (j < sql.size() && is_digit(sql[j])) ++j;
        const int number = j > i + 1 ? std::atoi(std::string(sql.substr(i + 1, j - i - 1)).c_str()) : count + 1;
        count = std::max(count, number);
        out += '$' + std::to_string(number);
        i = j - 1;
    }
    return out;
}

std::uint64_t round_trips() { return requests.load(std::memory_order_relaxed); }

bool is_unavailable_state(std::string_view sqlstate) {
    if (sqlstate.size() != 5) return true;  // no server answer: the connection is gone
    const std::string_view cls = sqlstate.substr(0, 2);
    // 08 connection, 53 insufficient resources (disk full), 57 operator intervention
    // (admin shutdown, cannot connect now), 58 system error (I/O), 40 transaction rollback
    // (serialization failure, deadlock), 25006 read-only transaction (a standby).
    return cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "40" || sqlstate == "25006";
}

void check(PGconn* conn, const PGresult* res, std::string_view what) {
    const ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return;
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const std::string message = trimmed_message(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    const bool unavailable = PQstatus(conn) != CONNECTION_OK || is_unavailable_state(state ? state : "");
    throw sql::Error(unavailable, std::string(what) + ": " + message);
}

Statement::Statement(PGconn* conn, std::string name, std::string text, int parameters)
    : conn_(conn), name_(std::move(name)), text_(std::move(text)), values_(static_cast<std::size_t>(parameters)),
      formats_(static_cast<std::size_t>(parameters), 0) {}

Statement::~Statement() { PQclear(result_); }

Statement& Statement::set(int index, std::optional<std::string> value, int format) {
    if (index < 1 || static_cast<std::size_t>(index) > values_.size())
        throw sql::Error(false, "parameter " + std::to_string(index) + " out of range in " + text_);
    values_[static_cast<std::size_t>(index - 1)] = std::move(value);
    formats_[static_cast<std::size_t>(index - 1)] = format;
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) { return set(index, std::to_string(value), 0); }
Statement& Statement::bind(int index, std::string_view text) { return set(index, std::string(text), 0); }
Statement& Statement::bind_blob(int index, std::string_view bytes) { return set(index, std::string(bytes), 1); }
Statement& Statement::bind_null(int index) { return set(index, std::nullopt, 0); }

void Statement::execute() {
    if (!prepared_) {
        requests.fetch_add(1, std::memory_order_relaxed);
        PGresult* res = PQprepare(conn_, name_.c_str(), text_.c_str(), static_cast<int>(values_.size()), nullptr);
        const auto done = std::unique_ptr<PGresult, decltype(&PQclear)>(res, PQclear);
        check(conn_, res, text_);
        prepared_ = true;
    }
    std::vector<const char*> values(values_.size());
    std::vector<int> lengths(values_.size());
    for (std::size_t i = 0; i < values_.size(); ++i) {
        values[i] = values_[i] ? values_[i]->c_str() : nullptr;
        lengths[i] = values_[i] ? static_cast<int>(values_[i]->size()) : 0;
    }
    requests.fetch_add(1, std::memory_order_relaxed);
    result_ = PQexecPrepared(conn_, name_.c_str(), static_cast<int>(values.size()), values.data(), lengths.data(),
                             formats_.data(), 0);
    check(conn_, result_, text_);
    const char* tuples = PQcmdTuples(result_);
    changed_ = tuples && *tuples ? std::atoll(tuples) : 0;
    row_ = -1;
}

bool Statement::step() {
    if (!result_) execute();
    if (row_ + 1 >= PQntuples(result_)) return false;
    ++row_;
    return true;
}

void Statement::reset() {
    PQclear(result_);
    result_ = nullptr;
    row_ = -1;
    for (auto& v : values_) v.reset();
    for (auto& f : formats_) f = 0;
}

std::int64_t Statement::integer(int column) const {
    const char* v = PQgetvalue(result_, row_, column);
    if (v[0] == 't' && v[1] == 0) return 1;  // a boolean
    if (v[0] == 'f' && v[1] == 0) return 0;
    return std::atoll(v);
}

std::string Statement::text(int column) const {
    if (PQgetisnull(result_, row_, column)) return {};
    const char* v = PQgetvalue(result_, row_, column);
    if (PQftype(result_, column) != kByteaOid) return std::string(v, static_cast<std::size_t>(PQgetlength(result_, row_, column)));
    std::size_t size = 0;
    unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(v), &size);
    if (!bytes) throw sql::Error(true, "out of memory reading a bytea column");
    std::string out(reinterpret_cast<const char*>(bytes), size);
    PQfreemem(bytes);
    return out;
}

bool Statement::is_null(int column) const { return PQgetisnull(result_, row_, column) != 0; }

Db::Db(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (!conn_) throw sql::Error(true, "cannot connect to PostgreSQL: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
        const std::string message = trimmed_message(PQerrorMessage(conn_));
        PQfinish(conn_);
        conn_ = nullptr;
        throw sql::Error(true, "cannot connect to PostgreSQL: " + message);
    }
}

Db::~Db() {
    statements_.clear();
    PQfinish(conn_);
}

void Db::exec(const std::string& sql) {
    requests.fetch_add(1, std::memory_order_relaxed);
    PGresult* res = PQexec(conn_, sql.c_str());
    const auto done = std::unique_ptr<PGresult, decltype(&PQclear)>(res, PQclear);
    check(conn_, res, sql);
    const char* tuples = PQcmdTuples(res);
    exec_changes_ = tuples && *tuples ? std::atoll(tuples) : 0;
    last_ = nullptr;
}

Statement& Db::prepare(const std::string& sql) {
    auto found = statements_.find(sql);
    if (found == statements_.end()) {
        int parameters = 0;
        std::string text = numbered_parameters(sql, parameters);
        auto statement = std::make_unique<Statement>(conn_, "haineko_" + std::to_string(statements_.size() + 1),
                                                     std::move(text), parameters);
        found = statements_.emplace(sql, std::move(statement)).first;
    }
    found->second->reset();
    last_ = found->second.get();
    return *found->second;
}

void Db::reset_all() {
    for (auto& [sql, statement] : statements_) statement->reset();
}

std::int64_t Db::changes() const { return last_ ? last_->changed() : exec_changes_; }

}  // namespace haineko::queue::postgres
