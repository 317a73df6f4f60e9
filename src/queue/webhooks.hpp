// Webhooks (api-v1.md): every event of the queue POSTed as JSON (the /v1/events object
// with a webhook_id) to each webhook that wants its type, signed
// X-Haineko-Signature: t=UNIXTIME,v1=HEX(HMAC-SHA256(secret, "UNIXTIME." + body)).
// Deliveries are kept in the store, so a restart drops none; a non-2xx answer or a
// timeout is tried again with backoff (10 s doubling to an hour) for up to 24 hours.
// One sender runs on the first event loop.
#pragma once
#include <boost/asio.hpp>

#include <random>

#include "config/config.hpp"
#include "queue/store.hpp"

namespace haineko::https {
class Client;
}

namespace haineko::queue {

class WebhookSender {
public:
    WebhookSender(boost::asio::any_io_executor executor, Store& store, ConfigHolder& config, https::Client& client);

    void start();
    void wake();  // from any thread: new events
    void stop();

private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> send(WebhookJob job);

    boost::asio::any_io_executor executor_;
    Store& store_;
    ConfigHolder& config_;
    https::Client& client_;
    boost::asio::steady_timer timer_;
    bool stopping_ = false;
    std::size_t in_flight_ = 0;
    std::mt19937_64 random_;
};

// The signature header's value for body sent at unix_time.
std::string webhook_signature(const std::string& secret, long long unix_time, const std::string& body);

// When to try a webhook delivery again after `failures` failed tries.
Millis webhook_backoff(int failures, double jitter);

}  // namespace haineko::queue
