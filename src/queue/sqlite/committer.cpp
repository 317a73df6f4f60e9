#include "queue/sqlite/committer.hpp"

#include "queue/store.hpp"

namespace haineko::queue::sqlite {

namespace {

// A batch waits for no one: it takes what is there, up to this many, so that one
// commit's latency stays bounded under any load.
constexpr size_t kMaxBatch = 512;

// What a job's error becomes for its caller: the store's trouble as StoreUnavailable
// (answered 503), anything else as it was.
std::exception_ptr as_caller_error(std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const Error& e) {
        if (is_unavailable(e.code())) return std::make_exception_ptr(StoreUnavailable(e.what()));
        return error;
    } catch (...) {
        return error;
    }
}

}  // namespace

Committer::Committer(std::unique_ptr<Db> db, Mode mode)
    : db_(std::move(db)), mode_(mode), thread_([this] { serve(); }) {}

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
            while (!waiting_.empty() && batch.size() < kMaxBatch) {
                batch.push_back(std::move(waiting_.front()));
                waiting_.pop_front();
            }
        }
        run_batch(batch);
        batch.clear();
    }
}

// A write that failed for want of space (a full disk, a file-size limit) left the WAL as
// long as it could grow. Once its frames are checkpointed into the database, the next
// transaction starts writing the WAL from its beginning, into space it already has, so
// small commits (the outcome of a delivery) can go on while large ones are refused.
void Committer::make_room_in_wal() {
    if (mode_ == Mode::read) return;  // a reader writes nothing
    sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
}

void Committer::run_batch(std::vector<Job>& batch) {
    std::vector<std::exception_ptr> errors(batch.size());
    std::exception_ptr batch_error;
    try {
        db_->exec(mode_ == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN");
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
    } catch (const std::exception& e) {
        // Nothing of this batch is kept: every caller hears so.
        try {
            db_->exec("ROLLBACK");
        } catch (...) {
        }
        batch_error = std::make_exception_ptr(StoreUnavailable(std::string("the queue cannot commit: ") + e.what()));
        make_room_in_wal();
    }
    {
        // Counted before any caller resumes, so that a caller sees its own call counted.
        std::lock_guard lock(mutex_);
        ++batches_;
        jobs_ += batch.size();
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(batch_error ? batch_error : errors[i]);
}

}  // namespace haineko::queue::sqlite
