// haineko.kv on the queue's store (plugin::Kv), and the sweep that removes expired keys
// in the background.
#pragma once
#include <boost/asio.hpp>

#include <memory>

#include "plugin/services.hpp"
#include "queue/store.hpp"

namespace haineko::queue {

class StoreKv : public plugin::Kv {
public:
    explicit StoreKv(Store& store) : store_(store) {}
    boost::asio::awaitable<std::optional<std::string>> get(std::string key) override;
    boost::asio::awaitable<void> set(std::string key, std::string value, std::optional<long long> ttl) override;
    boost::asio::awaitable<long long> incr(std::string key, long long by, std::optional<long long> ttl) override;
    boost::asio::awaitable<void> del(std::string key) override;

private:
    Store& store_;
};

// Every minute on this executor, until stop(): the expired keys go.
class KvSweeper {
public:
    KvSweeper(boost::asio::any_io_executor executor, Store& store);
    void start();
    void stop();

private:
    boost::asio::awaitable<void> run();
    Store& store_;
    std::shared_ptr<boost::asio::steady_timer> timer_;
    bool stopped_ = false;
};

}  // namespace haineko::queue
