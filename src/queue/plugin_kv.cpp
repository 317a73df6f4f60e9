#include "queue/plugin_kv.hpp"

#include <spdlog/spdlog.h>

#include "queue/scheduler.hpp"

namespace haineko::queue {

namespace asio = boost::asio;

namespace {

std::optional<Millis> expiry(std::optional<long long> ttl) {
    if (!ttl) return std::nullopt;
    return now_millis() + *ttl * 1000;
}

}  // namespace

asio::awaitable<std::optional<std::string>> StoreKv::get(std::string key) {
    co_return co_await store_.kv_get(std::move(key), now_millis());
}

asio::awaitable<void> StoreKv::set(std::string key, std::string value, std::optional<long long> ttl) {
    co_await store_.kv_set(std::move(key), std::move(value), expiry(ttl));
}

asio::awaitable<long long> StoreKv::incr(std::string key, long long by, std::optional<long long> ttl) {
    co_return co_await store_.kv_incr(std::move(key), by, expiry(ttl), now_millis());
}

asio::awaitable<void> StoreKv::del(std::string key) { co_await store_.kv_del(std::move(key)); }

KvSweeper::KvSweeper(asio::any_io_executor executor, Store& store)
    : store_(store), timer_(std::make_shared<asio::steady_timer>(executor)) {}

void KvSweeper::start() { asio::co_spawn(timer_->get_executor(), run(), asio::detached); }

void KvSweeper::stop() {
    stopped_ = true;
    timer_->cancel();
}

asio::awaitable<void> KvSweeper::run() {
    auto timer = timer_;  // the sweeper may go before the last wake-up
    while (!stopped_) {
        timer->expires_after(std::chrono::minutes(1));
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopped_) co_return;
        try {
            const std::int64_t n = co_await store_.kv_expire(now_millis());
            if (n > 0) spdlog::debug("kv: {} expired key(s) removed", n);
        } catch (const std::exception& e) {
            spdlog::warn("kv: the expired keys could not be removed: {}", e.what());
        }
    }
}

}  // namespace haineko::queue
