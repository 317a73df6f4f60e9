// The process-wide count of open SMTP sessions per (host, port, TLS, credentials), so
// that max_sessions_per_host holds across event loops, and who waits for a slot. Each
// loop's sessions themselves live in that loop's lanes (lane.hpp).
#pragma once
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace haineko::smtp {

class SharedLimit {
public:
    bool try_reserve(const std::string& key, std::size_t limit);
    // A slot, or (under the same lock, so that no release slips in between) a place in
    // the queue, with wake called when a slot frees.
    bool reserve_or_wait(const std::string& key, std::size_t limit, std::function<void()> wake);
    void release(const std::string& key);  // frees a slot and wakes one waiter, if any
    void wait(const std::string& key, std::function<void()> wake);
    // A woken waiter that no longer needs the slot passes the wake-up on.
    void pass_on(const std::string& key);
    bool has_waiters(const std::string& key);
    std::size_t open(const std::string& key);
    static SharedLimit& process();

private:
    std::mutex mutex_;
    std::map<std::string, std::size_t> open_;
    std::map<std::string, std::deque<std::function<void()>>> waiters_;
};

}  // namespace haineko::smtp
