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

Statement::Statement(Db& db, std::string name, std::string text, int parameters)
    : db_(db), name_(std::move(name)), text_(std::move(text)), values_(static_cast<std::size_t>(parameters)),
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

void Statement::send() {
    PGconn* conn = db_.conn_;
    const int count = static_cast<int>(values_.size());
    const bool planned_each_call = name_.empty();
    if (!prepared_ && !planned_each_call) {
        if (db_.pipelining_) {
            if (!PQsendPrepare(conn, name_.c_str(), text_.c_str(), count, nullptr)) check(conn, nullptr, text_);
            db_.sent_.push_back({text_, this});
        } else {
            requests.fetch_add(1, std::memory_order_relaxed);
            PGresult* res = PQprepare(conn, name_.c_str(), text_.c_str(), count, nullptr);
            const auto done = std::unique_ptr<PGresult, decltype(&PQclear)>(res, PQclear);
            check(conn, res, text_);
        }
        prepared_ = true;
    }
    std::vector<const char*> values(values_.size());
    std::vector<int> lengths(values_.size());
    for (std::size_t i = 0; i < values_.size(); ++i) {
        values[i] = values_[i] ? values_[i]->c_str() : nullptr;
        lengths[i] = values_[i] ? static_cast<int>(values_[i]->size()) : 0;
    }
    if (db_.pipelining_) {
        const int sent = planned_each_call ? PQsendQueryParams(conn, text_.c_str(), count, nullptr, values.data(),
                                                               lengths.data(), formats_.data(), 0)
                                           : PQsendQueryPrepared(conn, name_.c_str(), count, values.data(),
                                                                 lengths.data(), formats_.data(), 0);
        if (!sent) check(conn, nullptr, text_);
        db_.sent_.push_back({text_, nullptr});
        return;
    }
    requests.fetch_add(1, std::memory_order_relaxed);
    result_ = planned_each_call
                  ? PQexecParams(conn, text_.c_str(), count, nullptr, values.data(), lengths.data(), formats_.data(), 0)
                  : PQexecPrepared(conn, name_.c_str(), count, values.data(), lengths.data(), formats_.data(), 0);
    check(conn, result_, text_);
    db_.note_changes(result_);
}

void Statement::execute() {
    send();
    if (db_.pipelining_) result_ = db_.read_sent(true);
    row_ = -1;
}

bool Statement::step() {
    if (!result_) execute();
    if (row_ + 1 >= PQntuples(result_)) return false;
    ++row_;
    return true;
}

void Statement::run() {
    if (!db_.pipelining_) return sql::Statement::run();
    PQclear(result_);
    result_ = nullptr;
    send();
    db_.read_when_many();
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
    planned_each_call_.clear();
    PQfinish(conn_);
}

void Db::note_changes(const PGresult* res) {
    const char* tuples = PQcmdTuples(const_cast<PGresult*>(res));
    changes_ = tuples && *tuples ? std::atoll(tuples) : 0;
}

void Db::exec(const std::string& sql) {
    if (pipelining_) {
        // The extended protocol takes one statement a message.
        std::size_t from = 0;
        while (from < sql.size()) {
            std::size_t to = sql.find(';', from);
            if (to == std::string::npos) to = sql.size();
            std::string one = sql.substr(from, to - from);
            from = to + 1;
            if (one.find_first_not_of(" \t\n") == std::string::npos) continue;
            if (!PQsendQueryParams(conn_, one.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)) check(conn_, nullptr, one);
            sent_.push_back({std::move(one), nullptr});
        }
        return read_when_many();
    }
    requests.fetch_add(1, std::memory_order_relaxed);
    PGresult* res = PQexec(conn_, sql.c_str());
    const auto done = std::unique_ptr<PGresult, decltype(&PQclear)>(res, PQclear);
    check(conn_, res, sql);
    note_changes(res);
}

Statement& Db::prepare(const std::string& sql) {
    auto found = statements_.find(sql);
    if (found == statements_.end()) {
        int parameters = 0;
        std::string text = numbered_parameters(sql, parameters);
        auto statement = std::make_unique<Statement>(*this, "haineko_" + std::to_string(statements_.size() + 1),
                                                     std::move(text), parameters);
        found = statements_.emplace(sql, std::move(statement)).first;
    }
    found->second->reset();
    return *found->second;
}

Statement& Db::prepare_planned_each_call(const std::string& sql) {
    auto found = planned_each_call_.find(sql);
    if (found == planned_each_call_.end()) {
        int parameters = 0;
        std::string text = numbered_parameters(sql, parameters);
        auto statement = std::make_unique<Statement>(*this, std::string(), std::move(text), parameters);
        found = planned_each_call_.emplace(sql, std::move(statement)).first;
    }
    found->second->reset();
    return *found->second;
}

void Db::reset_all() {
    for (auto& [sql, statement] : statements_) statement->reset();
    for (auto& [sql, statement] : planned_each_call_) statement->reset();
}

std::int64_t Db::changes() {
    if (pipelining_) PQclear(read_sent(false));
    return changes_;
}

void Db::begin_pipeline() {
    if (pipelining_) return;
    if (!PQenterPipelineMode(conn_)) check(conn_, nullptr, "entering pipeline mode");
    pipelining_ = true;
}

PGresult* Db::next_answer() {
    PGresult* res = PQgetResult(conn_);
    if (res)
        while (PGresult* end = PQgetResult(conn_)) PQclear(end);  // a command's answer ends with null
    return res;
}

PGresult* Db::read_sent(bool keep_last) {
    if (read_ == sent_.size()) return nullptr;
    requests.fetch_add(1, std::memory_order_relaxed);
    if (!PQsendFlushRequest(conn_) || PQflush(conn_) != 0) check(conn_, nullptr, "sending a pipeline");
    PGresult* kept = nullptr;
    while (read_ < sent_.size()) {
        Sent& sent = sent_[read_++];
        PGresult* res = next_answer();
        const ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            if (sent.preparing) sent.preparing->prepared_ = false;
            PQclear(kept);
            const auto done = std::unique_ptr<PGresult, decltype(&PQclear)>(res, PQclear);
            check(conn_, status == PGRES_PIPELINE_ABORTED ? nullptr : res, sent.what);
            throw sql::Error(true, sent.what + ": aborted in a pipeline");
        }
        note_changes(res);
        if (keep_last && read_ == sent_.size())
            kept = res;
        else
            PQclear(res);
    }
    sent_.clear();
    read_ = 0;
    return kept;
}

void Db::read_when_many() {
    if (sent_.size() - read_ >= 256) PQclear(read_sent(false));
}

void Db::end_pipeline() {
    if (!pipelining_) return;
    std::exception_ptr first;
    auto keep_first = [&](const PGresult* res, const std::string& what) {
        if (first) return;
        try {
            check(conn_, res, what);
        } catch (...) {
            first = std::current_exception();
        }
    };
    requests.fetch_add(1, std::memory_order_relaxed);
    if (!PQpipelineSync(conn_)) keep_first(nullptr, "ending a pipeline");
    // Each command's answer (one result, then null), then the sync's; two nulls in a row:
    // nothing more will come (the connection is gone).
    int nulls = 0;
    while (PQstatus(conn_) == CONNECTION_OK) {
        PGresult* res = PQgetResult(conn_);
        if (!res) {
            if (++nulls == 2) break;
            continue;
        }
        nulls = 0;
        const auto done = std::unique_ptr<PGresult, decltype(&PQclear)>(res, PQclear);
        const ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_PIPELINE_SYNC) break;
        if (read_ >= sent_.size()) continue;
        Sent& sent = sent_[read_++];
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            note_changes(res);
            continue;
        }
        if (sent.preparing) sent.preparing->prepared_ = false;
        if (status != PGRES_PIPELINE_ABORTED) keep_first(res, sent.what);
    }
    for (; read_ < sent_.size(); ++read_)  // no answer: whether they ran is unknown
        if (sent_[read_].preparing) sent_[read_].preparing->prepared_ = false;
    if (PQstatus(conn_) != CONNECTION_OK) keep_first(nullptr, "reading a pipeline's answers");
    sent_.clear();
    read_ = 0;
    PQexitPipelineMode(conn_);
    pipelining_ = false;
    if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_INERROR)
        PQclear(PQexec(conn_, "ROLLBACK"));
    if (first) std::rethrow_exception(first);
}

}  // namespace haineko::queue::postgres
