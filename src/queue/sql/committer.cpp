#include "queue/sql/committer.hpp"

#include "queue/store.hpp"

namespace haineko::queue::sql {

namespace {

// What a job's error becomes for its caller: the store's trouble as StoreUnavailable
// (answered 503), anything else as it was.
std::exception_ptr as_caller_error(std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const Error& e) {
        if (e.unavailable()) return std::make_exception_ptr(StoreUnavailable(e.what()));
        return error;
    } catch (...) {
        return error;
    }
}

}  // namespace

Committer::Committer(std::unique_ptr<Db> db, Mode mode, Dialect dialect)
    : db_(std::move(db)), mode_(mode), dialect_(std::move(dialect)), thread_([this] { serve(); }) {}

Committer::~Committer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

std::uint64_t Committer::batches() const {
    std::lock_guard lock(mutex_);
    return batches_;
}

std::uint64_t Committer::jobs() const {
    std::lock_guard lock(mutex_);
    return jobs_;
}

void Committer::push(Job job) {
    {
        std::lock_guard lock(mutex_);
        waiting_.push_back(std::move(job));
    }
    wake_.notify_one();
}

void Committer::serve() {
    std::vector<Job> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
            if (waiting_.empty()) return;  // stopping, and nothing left to do
            while (!waiting_.empty() && batch.size() < dialect_.max_batch) {
                batch.push_back(std::move(waiting_.front()));
                waiting_.pop_front();
            }
        }
        run_batch(batch);
        batch.clear();
    }
}

// A lost connection is made again before a batch, when the dialect can; a batch without
// one fails as unavailable, and the next one tries again.
bool Committer::connection_ready() {
    if (db_ && db_->connected()) return true;
    if (!dialect_.reconnect) return db_ != nullptr;
    db_.reset();
    try {
        db_ = dialect_.reconnect();
    } catch (const std::exception&) {
        db_.reset();
    }
    return db_ != nullptr;
}

// A connection that went stale while idle (the database restarted) is found out by the
// batch's first statement, before anything of the batch ran: it is made again and the
// batch begins once more, so that no caller hears of a restart that is over.
void Committer::begin_batch() {
    if (!connection_ready()) throw Error(true, "no connection to the database");
    const std::string& begin = mode_ == Mode::write ? dialect_.begin_write : dialect_.begin_read;
    try {
        db_->exec(begin);
    } catch (const Error& e) {
        if (!e.unavailable() || db_->connected() || !dialect_.reconnect || !connection_ready()) throw;
        db_->exec(begin);
    }
}

// What follows a commit does not undo it: its trouble is the next batch's to meet.
void Committer::after_commit() {
    try {
        if (dialect_.pipeline) db_->begin_pipeline();
        dialect_.after_commit(*db_);
        db_->end_pipeline();
    } catch (const std::exception&) {
        roll_back();
    }
}

void Committer::roll_back() {
    if (!db_) return;
    try {
        db_->end_pipeline();
    } catch (...) {
    }
    try {
        db_->exec("ROLLBACK");
    } catch (...) {
    }
    db_->reset_all();
}

void Committer::count(std::size_t jobs) {
    // Counted before any caller resumes, so that a caller sees its own call counted.
    std::lock_guard lock(mutex_);
    ++batches_;
    jobs_ += jobs;
}

void Committer::run_batch(std::vector<Job>& batch) {
    if (dialect_.pipeline) {
        if (run_pipelined(batch)) return;
        // One job's error failed them all: each alone now, so that only its own fails.
        for (auto& job : batch) job.done(run_alone(job));
        if (dialect_.after_commit && mode_ == Mode::write) after_commit();
        return;
    }
    std::vector<std::exception_ptr> errors(batch.size());
    std::exception_ptr batch_error;
    try {
        begin_batch();
        for (size_t i = 0; i < batch.size(); ++i) {
            db_->exec("SAVEPOINT job");
            try {
                batch[i].work(*db_);
                db_->reset_all();
                db_->exec("RELEASE job");
            } catch (...) {
                errors[i] = as_caller_error(std::current_exception());
                db_->reset_all();
                db_->exec("ROLLBACK TO job; RELEASE job");
            }
        }
        db_->exec("COMMIT");
        if (dialect_.after_commit && mode_ == Mode::write) after_commit();
    } catch (const std::exception& e) {
        // Nothing of this batch is kept: every caller hears so.
        roll_back();
        batch_error = std::make_exception_ptr(StoreUnavailable(std::string("the queue cannot commit: ") + e.what()));
        try {
            if (db_ && dialect_.after_failure && mode_ == Mode::write) dialect_.after_failure(*db_);
        } catch (...) {
        }
    }
    count(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(batch_error ? batch_error : errors[i]);
}

// The database's trouble (unavailable) fails the whole batch, as it would fail each job;
// any other error may be one job's, and the batch is run again job by job.
void Committer::commit_pipelined(Job* first, Job* last) {
    begin_batch();
    db_->begin_pipeline();
    for (Job* job = first; job != last; ++job) {
        job->work(*db_);
        db_->reset_all();
    }
    db_->exec("COMMIT");
    db_->end_pipeline();
}

bool Committer::run_pipelined(std::vector<Job>& batch) {
    std::exception_ptr batch_error;
    try {
        commit_pipelined(batch.data(), batch.data() + batch.size());
    } catch (const Error& e) {
        roll_back();
        if (!e.unavailable()) return false;
        batch_error = std::make_exception_ptr(StoreUnavailable(std::string("the queue cannot commit: ") + e.what()));
    } catch (...) {
        roll_back();
        return false;
    }
    if (!batch_error && dialect_.after_commit && mode_ == Mode::write) after_commit();
    count(batch.size());
    for (auto& job : batch) job.done(batch_error);
    return true;
}

std::exception_ptr Committer::run_alone(Job& job) {
    std::exception_ptr error;
    try {
        commit_pipelined(&job, &job + 1);
    } catch (...) {
        error = as_caller_error(std::current_exception());
        roll_back();
    }
    count(1);
    return error;
}

}  // namespace haineko::queue::sql
