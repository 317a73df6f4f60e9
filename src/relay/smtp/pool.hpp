// Warm SMTP sessions per (host, port, TLS, credentials), one pool per event loop.
// A key never has more than its limit of sessions open; callers beyond it wait.
#pragma once
#include <boost/asio.hpp>

#include <deque>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "relay/smtp/connection.hpp"

namespace haineko::smtp {

class Pool {
public:
    explicit Pool(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

    // An idle session of key, or null with a slot reserved for a new one. Waits while the
    // key is at limit; throws SmtpIoError{timeout} when no slot frees within wait.
    boost::asio::awaitable<std::shared_ptr<Connection>> acquire(const std::string& key, std::size_t limit, Seconds wait);
    // Back to the pool when reusable, else closed; either way the caller's hold ends.
    void release(const std::string& key, std::shared_ptr<Connection> conn, bool reusable, Seconds idle);
    // The caller's reserved slot or session is gone.
    void forfeit(const std::string& key);

    // Closes every idle session (at shutdown), so that no idle deadline keeps the loop alive.
    void close_idle();

    std::size_t open_sessions(const std::string& key) const;
    std::size_t sessions_opened() const { return opened_; }
    void count_opened() { ++opened_; }

private:
    struct Waiter {
        boost::asio::steady_timer* timer;
        bool woken = false;
    };
    struct Entry {
        std::size_t open = 0;  // idle + in use + reserved
        std::deque<std::shared_ptr<Connection>> idle;
        std::list<Waiter> waiters;
    };
    void wake_one(Entry& e);

    boost::asio::any_io_executor executor_;
    std::map<std::string, Entry> entries_;
    std::size_t opened_ = 0;
};

}  // namespace haineko::smtp
