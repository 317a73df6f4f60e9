#include "relay/smtp/pool.hpp"

namespace haineko::smtp {

SharedLimit& SharedLimit::process() {
    static SharedLimit limits;
    return limits;
}

bool SharedLimit::try_reserve(const std::string& key, std::size_t limit) {
    std::lock_guard lock(mutex_);
    auto& n = open_[key];
    if (n >= limit) return false;
    ++n;
    return true;
}

bool SharedLimit::reserve_or_wait(const std::string& key, std::size_t limit, std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    auto& n = open_[key];
    if (n < limit) {
        ++n;
        return true;
    }
    waiters_[key].push_back(std::move(wake));
    return false;
}

void SharedLimit::release(const std::string& key) {
    std::function<void()> wake;
    {
        std::lock_guard lock(mutex_);
        auto& n = open_[key];
        if (n > 0) --n;
        auto& q = waiters_[key];
        if (!q.empty()) {
            wake = std::move(q.front());
            q.pop_front();
        }
    }
    if (wake) wake();  // outside the lock: it posts to another loop
}

void SharedLimit::pass_on(const std::string& key) {
    std::function<void()> wake;
    {
        std::lock_guard lock(mutex_);
        auto& q = waiters_[key];
        if (q.empty()) return;
        wake = std::move(q.front());
        q.pop_front();
    }
    wake();
}

void SharedLimit::wait(const std::string& key, std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    waiters_[key].push_back(std::move(wake));
}

bool SharedLimit::has_waiters(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = waiters_.find(key);
    return it != waiters_.end() && !it->second.empty();
}

std::size_t SharedLimit::open(const std::string& key) {
    std::lock_guard lock(mutex_);
    return open_[key];
}

}  // namespace haineko::smtp
