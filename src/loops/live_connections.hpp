// The open connections of one service (HTTP, SMTP), kept per event loop so that only that
// loop's thread touches its set. At a stop, each loop hands its connections to the
// service's idle test: an idle one is closed now, a busy one finishes what it is doing.
#pragma once
#include <functional>
#include <unordered_set>
#include <vector>

#include "loops/runtime.hpp"

namespace haineko {

template <class Connection>
class LiveConnections {
public:
    // close_if_idle: closes the connection if it waits for its client (run at a stop).
    LiveConnections(Runtime& runtime, std::function<void(Connection&)> close_if_idle)
        : by_loop_(runtime.loops().size()), close_if_idle_(std::move(close_if_idle)) {
        for (auto& loop : runtime.loops()) {
            loop->on_stop.push_back([this, l = loop.get()] {
                for (Connection* c : by_loop_[l->index]) close_if_idle_(*c);
            });
        }
    }

    // Held for a connection's life: it is in its loop's set meanwhile.
    class Entry {
    public:
        Entry(LiveConnections& live, const Loop& loop, Connection& c) : set_(live.by_loop_[loop.index]), c_(&c) {
            set_.insert(c_);
        }
        ~Entry() { set_.erase(c_); }
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;

    private:
        std::unordered_set<Connection*>& set_;
        Connection* c_;
    };

private:
    std::vector<std::unordered_set<Connection*>> by_loop_;
    std::function<void(Connection&)> close_if_idle_;
};

}  // namespace haineko
