// Hears the other nodes' NOTIFY on a connection of its own (LISTEN), so that work another
// node accepted is delivered at once rather than at the next look. The connection is made
// again when it is lost; the schedulers' look every second is the safety net meanwhile.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace haineko::queue::postgres {

inline constexpr const char* kWakeChannel = "haineko_queue";

class WakeListener {
public:
    WakeListener(std::string url, std::function<void()> wake);
    ~WakeListener();  // returns once no wake is under way
    WakeListener(const WakeListener&) = delete;
    WakeListener& operator=(const WakeListener&) = delete;

private:
    void serve();

    std::string url_;
    std::function<void()> wake_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace haineko::queue::postgres
