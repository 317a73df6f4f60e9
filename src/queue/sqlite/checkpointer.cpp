#include "queue/sqlite/checkpointer.hpp"

#include <chrono>

namespace haineko::queue::sqlite {

namespace {
constexpr auto kEvery = std::chrono::milliseconds(5);
}  // namespace

Checkpointer::Checkpointer(std::unique_ptr<Db> db) : db_(std::move(db)), thread_([this] { serve(); }) {}

Checkpointer::~Checkpointer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void Checkpointer::serve() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kEvery, [this] { return stopping_; })) {
        lock.unlock();
        // PASSIVE: never waits for the writer or a reader; copies what it can. An error
        // (a full disk) is the writer's to report; this thread just tries again later.
        sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        lock.lock();
    }
}

}  // namespace haineko::queue::sqlite
