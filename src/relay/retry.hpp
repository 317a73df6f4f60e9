// Retries without blocking: a mailer's attempt is run again while its reply is temporary
// (4xx, or no reply at all), `retry` more times, `sleep` seconds apart, on an Asio timer.
// When the server stops, every sleep ends at once (a cancellation slot per sleep) and the
// request is answered with the last reply it had.
#pragma once
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <list>

#include "config/config.hpp"
#include "core/reply.hpp"

namespace haineko {

inline bool is_temporary(const Reply& reply) { return reply.code == 0 || (reply.code >= 400 && reply.code < 500); }

// The sleeps between retries on one loop.
class RetrySleeps {
public:
    // True when the whole time passed; false when the server is stopping.
    boost::asio::awaitable<bool> sleep(std::chrono::seconds duration) {
        if (stopping_) co_return false;
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, duration);
        auto signal = signals_.emplace(signals_.end());
        auto [ec] = co_await timer.async_wait(
            boost::asio::bind_cancellation_slot(signal->slot(), boost::asio::as_tuple(boost::asio::use_awaitable)));
        signals_.erase(signal);
        co_return !ec && !stopping_;
    }
    // Ends every sleep now, and every later one at once.
    void stop() {
        stopping_ = true;
        for (auto& s : signals_) s.emit(boost::asio::cancellation_type::terminal);
    }
    bool stopping() const { return stopping_; }

private:
    std::list<boost::asio::cancellation_signal> signals_;
    bool stopping_ = false;
};

template <class Attempt>
boost::asio::awaitable<Reply> with_retries(const Route& route, RetrySleeps& sleeps, Attempt attempt) {
    for (int tries = 0;; ++tries) {
        Reply reply = co_await attempt();
        if (!is_temporary(reply) || tries >= route.retry) co_return reply;
        if (!co_await sleeps.sleep(std::chrono::seconds(route.sleep))) {
            reply.message.push_back("Not tried again: the server is stopping");
            co_return reply;
        }
    }
}

}  // namespace haineko
