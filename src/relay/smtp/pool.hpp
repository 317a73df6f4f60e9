// Warm SMTP sessions per (host, port, TLS, credentials). Each event loop keeps its own
// idle sessions (a socket belongs to its loop), but the limit of sessions per key holds
// for the whole process: loops reserve slots from one shared count, and a loop that
// frees a slot wakes a waiter on any loop.
#pragma once
#include <boost/asio.hpp>

#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "relay/smtp/connection.hpp"

namespace haineko::smtp {

// The process-wide count of open sessions per key, and who waits for one.
class SharedLimit {
public:
    bool try_reserve(const std::string& key, std::size_t limit);
    // A slot, or (under the same lock, so that no release slips in between) a place in
    // the queue with wake to be called when a slot frees.
    bool reserve_or_wait(const std::string& key, std::size_t limit, std::function<void()> wake);
    void release(const std::string& key);  // frees a slot and wakes one waiter, if any
    void wait(const std::string& key, std::function<void()> wake);
    bool has_waiters(const std::string& key);
    std::size_t open(const std::string& key);
    static SharedLimit& process();
    // The next loop's wake-up, for a loop that was woken but has nobody waiting.
    std::function<void()> next_waiter_public(const std::string& key) { return next_waiter(key); }

private:
    std::function<void()> next_waiter(const std::string& key);
    std::mutex mutex_;
    std::map<std::string, std::size_t> open_;
    std::map<std::string, std::deque<std::function<void()>>> waiters_;
};

class Pool {
public:
    // loops: how many loops share the limits, for each loop's fair share of a busy key.
    Pool(boost::asio::any_io_executor executor, std::size_t loops, SharedLimit& shared = SharedLimit::process())
        : executor_(std::move(executor)), loops_(loops ? loops : 1), shared_(shared) {}
    ~Pool();

    // An idle session of key, or null with a slot reserved for a new one. Waits while the
    // key is at limit; throws SmtpIoError{timeout} when no slot frees within wait.
    // name is what a message calls the key (host:port), since keys hold credential hashes.
    boost::asio::awaitable<std::shared_ptr<Connection>> acquire(const std::string& key, const std::string& name,
                                                                std::size_t limit, Seconds wait);
    // Back to the pool when reusable, else closed; either way the caller's hold ends.
    void release(const std::string& key, std::shared_ptr<Connection> conn, bool reusable, Seconds idle);
    // The caller's reserved slot or session is gone.
    void forfeit(const std::string& key);
    // At shutdown: closes every idle session, and from now on a released session goes to
    // a waiting request or is closed, so that no idle deadline keeps the loop alive.
    void drain();

    std::size_t sessions_opened() const { return opened_; }
    void count_opened() { ++opened_; }

private:
    struct Waiter {
        boost::asio::steady_timer* timer;
        bool woken = false;
    };
    struct Entry {
        std::deque<std::shared_ptr<Connection>> idle;
        std::list<Waiter> waiters;
        std::size_t held = 0;   // this loop's slots: idle, in use and reserved
        std::size_t limit = 1;  // as last asked
    };
    void give_up_slot(const std::string& key, Entry& e);
    bool wake_local(Entry& e);
    void close_idle();
    void drop_idle(const std::string& key, Connection* conn);

    boost::asio::any_io_executor executor_;
    std::size_t loops_;
    SharedLimit& shared_;
    std::map<std::string, Entry> entries_;
    std::size_t opened_ = 0;
    bool draining_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for wake-ups posted from other loops
};

}  // namespace haineko::smtp
