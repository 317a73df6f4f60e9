#include "relay/smtp/pool.hpp"

namespace haineko::smtp {

namespace asio = boost::asio;

asio::awaitable<std::shared_ptr<Connection>> Pool::acquire(const std::string& key, std::size_t limit, Seconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        Entry& e = entries_[key];
        while (!e.idle.empty()) {  // most recently used first: it is the least likely to be stale
            auto conn = std::move(e.idle.back());
            e.idle.pop_back();
            if (conn->is_open()) co_return conn;
            --e.open;  // closed while idle (its idle deadline, or the peer)
        }
        if (e.open < limit) {
            ++e.open;
            co_return nullptr;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw SmtpIoError(SmtpIoError::timeout, "CONN", "No SMTP session to " + key + " became free in time");
        asio::steady_timer timer(executor_, deadline);
        e.waiters.push_back(Waiter{&timer});
        auto it = std::prev(e.waiters.end());
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        // Woken (cancelled) by a release, or the deadline: either way, leave the queue.
        // Map nodes never move, so e and it are still valid.
        e.waiters.erase(it);
    }
}

void Pool::wake_one(Entry& e) {
    for (auto& w : e.waiters)
        if (!w.woken) {
            w.woken = true;
            w.timer->cancel();
            return;
        }
}

void Pool::release(const std::string& key, std::shared_ptr<Connection> conn, bool reusable, Seconds idle) {
    Entry& e = entries_[key];
    if (reusable && conn && conn->is_open()) {
        conn->close_after(idle);
        e.idle.push_back(std::move(conn));
    } else {
        if (conn) conn->close();
        if (e.open > 0) --e.open;
    }
    wake_one(e);
}

void Pool::forfeit(const std::string& key) {
    Entry& e = entries_[key];
    if (e.open > 0) --e.open;
    wake_one(e);
}

void Pool::close_idle() {
    for (auto& [key, e] : entries_) {
        for (auto& conn : e.idle) conn->close();
        e.open -= std::min(e.open, e.idle.size());
        e.idle.clear();
    }
}

std::size_t Pool::open_sessions(const std::string& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? 0 : it->second.open;
}

}  // namespace haineko::smtp
