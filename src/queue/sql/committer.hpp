// A store's own thread over one connection. Calls queue up as jobs; the thread takes every
// job that is waiting, runs them in one transaction (each in a savepoint of its own, so one
// job's error undoes that job only; or, pipelined, without savepoints and run again one by
// one when the batch fails), commits once, and only then resumes each caller on its own
// executor. The commit is the fsync (SQLite with synchronous=FULL, PostgreSQL's WAL
// flush): many requests, one fsync (group commit). No event loop ever waits on the disk
// or the network.
#pragma once
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "queue/sql/db.hpp"

namespace haineko::queue::sql {

// What differs between databases.
struct Dialect {
    // How a batch starts. SQLite: a writer takes the write lock at once (BEGIN
    // IMMEDIATE); a reader's snapshot (BEGIN) in WAL mode never waits for the writer nor
    // holds it up, so a long read (a list, a count) does not delay a single 202.
    std::string begin_write = "BEGIN IMMEDIATE";
    std::string begin_read = "BEGIN";
    // A batch waits for no one: it takes what is there, up to this many jobs, so that one
    // commit's latency stays bounded under any load. (PostgreSQL: each job's savepoint is
    // a subtransaction, and past 64 in one transaction every snapshot of every session
    // has to look them up in pg_subtrans.)
    std::size_t max_batch = 512;
    // Jobs without savepoints, their statements pipelined (Db::begin_pipeline): a batch
    // costs a few round trips, not one a statement. A batch that fails is run again, one
    // job a transaction, so that one job's error is still that job's alone.
    bool pipeline = false;
    // After a batch that could not be committed (SQLite: make room in the WAL).
    std::function<void(Db&)> after_failure;
    // After a batch was committed, before its callers hear so, outside its transaction
    // (PostgreSQL: number the new events). A failure here fails no caller.
    std::function<void(Db&)> after_commit;
    // A new connection when the one held is lost (PostgreSQL); null: never.
    std::function<std::unique_ptr<Db>()> reconnect;
};

class Committer {
public:
    enum class Mode { write, read };

    // Takes the connection over (it may be null when reconnect can make one); runs until
    // destroyed (pending jobs still run).
    explicit Committer(std::unique_ptr<Db> db, Mode mode = Mode::write, Dialect dialect = {});
    Committer(const Committer&) = delete;
    Committer& operator=(const Committer&) = delete;
    ~Committer();

    // Runs fn(Db&) on the store's thread inside the next batch's transaction and resumes
    // the caller with its result after the commit. Throws StoreUnavailable when the
    // batch could not be committed (or fn met a full disk), and what fn threw otherwise.
    template <class T, class Fn>
    boost::asio::awaitable<T> run(Fn fn) {
        // GCC 12 mishandles a lambda temporary with non-trivial captures inside a co_await
        // expression, so the initiation is a named local.
        auto result = std::make_shared<std::optional<T>>();
        auto initiation = [this, result, &fn](auto handler) {
            using Handler = decltype(handler);
            auto owned = std::make_shared<Handler>(std::move(handler));
            // The caller's loop must not run out of work (and end) while its call waits here.
            auto busy = std::make_shared<boost::asio::executor_work_guard<boost::asio::any_io_executor>>(
                boost::asio::get_associated_executor(*owned));
            Job job;
            job.work = [result, fn = std::move(fn)](Db& db) { result->emplace(fn(db)); };
            job.done = [owned, busy](std::exception_ptr error) {
                auto executor = boost::asio::get_associated_executor(*owned);
                boost::asio::post(executor, [owned, busy, error]() mutable {
                    (*owned)(error);
                    busy->reset();
                });
            };
            push(std::move(job));
        };
        co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(std::exception_ptr)>(
            initiation, boost::asio::use_awaitable);
        co_return std::move(**result);
    }

    // Batches committed so far, and jobs in them: how well commits are shared.
    std::uint64_t batches() const;
    std::uint64_t jobs() const;

private:
    struct Job {
        std::function<void(Db&)> work;
        std::function<void(std::exception_ptr)> done;
    };

    void push(Job job);
    void serve();
    void run_batch(std::vector<Job>& batch);
    // A pipelined batch; false when it failed for one of its jobs (nothing kept).
    bool run_pipelined(std::vector<Job>& batch);
    // Runs [first, last) in one pipelined transaction and commits; throws what failed.
    void commit_pipelined(Job* first, Job* last);
    std::exception_ptr run_alone(Job& job);
    void roll_back();
    void count(std::size_t jobs);
    bool connection_ready();
    void begin_batch();
    void after_commit();

    std::unique_ptr<Db> db_;
    Mode mode_;
    Dialect dialect_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> waiting_;
    bool stopping_ = false;
    std::uint64_t batches_ = 0, jobs_ = 0;
    std::thread thread_;
};

}  // namespace haineko::queue::sql
