// Copies the WAL back into the database on a thread of its own (a passive checkpoint every
// few milliseconds), so that the writing thread spends its time on commits rather than
// on checkpoints. The WAL stays short, and the writer starts it over from the beginning
// whenever a checkpoint has caught up. The writer keeps a high automatic checkpoint as a
// fallback, should this thread fall behind.
#pragma once
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "queue/sqlite/sqlite_db.hpp"

namespace haineko::queue::sqlite {

class Checkpointer {
public:
    explicit Checkpointer(std::unique_ptr<Db> db);
    ~Checkpointer();

private:
    void serve();

    std::unique_ptr<Db> db_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

// The writer's automatic checkpoint when a Checkpointer runs (pages of WAL).
constexpr int kFallbackAutocheckpoint = 8000;

}  // namespace haineko::queue::sqlite
