// Retries without blocking: a mailer's attempt is run again while its reply is temporary
// (4xx, or no reply at all), `retry` more times, `sleep` seconds apart, on an Asio timer.
#pragma once
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "config/config.hpp"
#include "core/reply.hpp"

namespace haineko {

inline bool is_temporary(const Reply& reply) { return reply.code == 0 || (reply.code >= 400 && reply.code < 500); }

template <class Attempt>
boost::asio::awaitable<Reply> with_retries(const Route& route, Attempt attempt) {
    for (int tries = 0;; ++tries) {
        Reply reply = co_await attempt();
        if (!is_temporary(reply) || tries >= route.retry) co_return reply;
        boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor, std::chrono::seconds(route.sleep));
        co_await pause.async_wait(boost::asio::use_awaitable);
    }
}

}  // namespace haineko
