#include "relay/smtp/pool.hpp"

#include <algorithm>

namespace haineko::smtp {

namespace asio = boost::asio;

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

std::function<void()> SharedLimit::next_waiter(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto& q = waiters_[key];
    if (q.empty()) return nullptr;
    auto wake = std::move(q.front());
    q.pop_front();
    return wake;
}

void SharedLimit::release(const std::string& key) {
    {
        std::lock_guard lock(mutex_);
        auto& n = open_[key];
        if (n > 0) --n;
    }
    if (auto wake = next_waiter(key)) wake();  // outside the lock: it posts to another loop
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

Pool::~Pool() {
    *alive_ = false;
    close_idle();
}

asio::awaitable<std::shared_ptr<Connection>> Pool::acquire(const std::string& key, const std::string& name,
                                                           std::size_t limit, Seconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        Entry& e = entries_[key];
        e.limit = limit;
        while (!e.idle.empty()) {  // most recently used first: the least likely to be stale
            auto conn = std::move(e.idle.back());
            e.idle.pop_back();
            if (conn->is_open()) co_return conn;
            give_up_slot(key, e);
        }
        // Each loop opens at most its share of the limit, so that no healthy session ever
        // has to be closed to make room for another loop's. A loop below its share that
        // finds the limit reached asks the other loops for the next freed slot: it wakes
        // a waiter here (or, if nobody waits here any more, is passed on).
        const std::size_t cap = std::max<std::size_t>(1, (limit + loops_ - 1) / loops_);
        auto wake_here = [executor = executor_, this, key, alive = std::weak_ptr<bool>(alive_)] {
            asio::post(executor, [this, key, alive] {
                auto live = alive.lock();
                if (!live || !*live) return;
                if (!wake_local(entries_[key]))
                    if (auto next = shared_.next_waiter_public(key)) next();
            });
        };
        if (e.held < cap && shared_.reserve_or_wait(key, limit, wake_here)) {
            ++e.held;
            co_return nullptr;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw SmtpIoError(SmtpIoError::timeout, "CONN", "No SMTP session to " + name + " became free in time");
        asio::steady_timer timer(executor_, deadline);
        e.waiters.push_back(Waiter{&timer});
        auto it = std::prev(e.waiters.end());
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        e.waiters.erase(it);  // map nodes never move: e and it are still valid
    }
}

bool Pool::wake_local(Entry& e) {
    for (auto& w : e.waiters)
        if (!w.woken) {
            w.woken = true;
            w.timer->cancel();
            return true;
        }
    return false;
}

void Pool::give_up_slot(const std::string& key, Entry& e) {
    if (e.held > 0) --e.held;
    shared_.release(key);
}

void Pool::drop_idle(const std::string& key, Connection* conn) {
    Entry& e = entries_[key];
    for (auto it = e.idle.begin(); it != e.idle.end(); ++it)
        if (it->get() == conn) {
            e.idle.erase(it);
            give_up_slot(key, e);
            return;
        }
}

void Pool::release(const std::string& key, std::shared_ptr<Connection> conn, bool reusable, Seconds idle) {
    Entry& e = entries_[key];
    const bool local_waiter = std::any_of(e.waiters.begin(), e.waiters.end(), [](const Waiter& w) { return !w.woken; });
    // Keep the session warm for this loop, unless other loops wait for a slot and this
    // one holds more than its guaranteed share (which is 0 when there are more loops than
    // sessions): then the slot is worth more to them.
    const std::size_t guaranteed = e.limit / loops_;
    const bool keep = local_waiter || (!draining_ && (e.held <= guaranteed || !shared_.has_waiters(key)));
    if (reusable && conn && conn->is_open() && keep) {
        conn->close_after(idle, [this, key, raw = conn.get(), alive = std::weak_ptr<bool>(alive_)] {
            if (auto live = alive.lock(); live && *live) drop_idle(key, raw);
        });
        e.idle.push_back(std::move(conn));
        wake_local(e);
        return;
    }
    if (conn) conn->close();
    give_up_slot(key, e);
    wake_local(e);
}

void Pool::forfeit(const std::string& key) {
    Entry& e = entries_[key];
    give_up_slot(key, e);
    wake_local(e);
}

void Pool::drain() {
    draining_ = true;
    close_idle();
}

void Pool::close_idle() {
    for (auto& [key, e] : entries_) {
        for (auto& conn : e.idle) {
            conn->close();
            give_up_slot(key, e);
        }
        e.idle.clear();
    }
}

}  // namespace haineko::smtp
