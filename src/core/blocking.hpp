// Blocking work (disk writes with fsync, reading config files) runs on a small pool of
// its own, so that no event loop ever waits on the disk.
#pragma once
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <utility>

namespace haineko {

// The process's pool for blocking work. Several threads, so that concurrent fsyncs can
// share the file system's journal commits.
boost::asio::thread_pool& blocking_pool();

// Runs fn() on the blocking pool and resumes the caller on its own executor with the
// result. fn must not throw. (No coroutine runs on the pool: the caller's completion
// handler is posted back to its loop.)
template <class Fn>
boost::asio::awaitable<decltype(std::declval<Fn&>()())> off_loop(Fn fn) {
    using Result = decltype(std::declval<Fn&>()());
    std::optional<Result> result;
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void()>(
        [&result, &fn](auto handler) {
            boost::asio::post(blocking_pool(), [&result, &fn, handler = std::move(handler)]() mutable {
                result.emplace(fn());
                auto loop = boost::asio::get_associated_executor(handler);
                boost::asio::post(loop, std::move(handler));
            });
        },
        boost::asio::use_awaitable);
    co_return std::move(*result);
}

}  // namespace haineko
