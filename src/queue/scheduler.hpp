// Delivers what the queue holds, on one event loop with that loop's mailers. It keeps in
// memory only the attempts in flight: each turn it claims from the store what is due
// (never more deliveries at once than its share of queue.max_concurrency), and sleeps
// until woken (a new message, an action) or a second has passed. An attempt gives its
// slot back when the relay has answered, not when the store has kept the answer: waiting
// for a commit holds no relay session, and on a database across a socket that wait is
// most of an attempt. Attempts waiting for their commit are bounded too (as many again).
// Each claimed message is loaded once; its recipients are grouped by route (and domain,
// for MX) into transactions of at most 100 RCPT TO; the replies go through the
// disposition step, bounces become delivery status notifications, and everything is
// settled in one store call.
#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <boost/asio.hpp>

#include <memory>
#include <random>
#include <vector>

#include "config/config.hpp"
#include "queue/records.hpp"
#include "queue/store.hpp"
#include "core/time.hpp"
#include "queue/delivery_metrics.hpp"

namespace haineko {
class MailerSet;
namespace plugin {
class Host;
}
}

namespace haineko::queue {

class Scheduler {
public:
    // capacity: attempts in flight at once on this loop.
    // metrics: the loop's own counters, where settled attempts are counted.
    // plugins: the loop's plugin host for the configuration in force (null: none), for the
    // delivery hooks.
    using PluginsNow = std::function<std::shared_ptr<plugin::Host>()>;
    Scheduler(boost::asio::any_io_executor executor, Store& store, ConfigHolder& config, MailerSet& mailers,
              std::size_t capacity, DeliveryMetrics& metrics, PluginsNow plugins = {});

    void start();  // on the loop
    void wake();   // from any thread: look for due work now
    void stop();   // on the loop: claim nothing more; attempts in flight finish

    std::size_t in_flight() const { return delivering_ + settling_; }

private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> attempt(std::vector<DueRecipient> due);
    boost::asio::awaitable<std::vector<Outcome>> deliver(const NewMessage& message, const std::vector<DueRecipient>& due,
                                                         const Config& config);
    // Each recipient's route: the plugins' get_route, else the tables (null: the tables').
    boost::asio::awaitable<std::vector<const Route*>> plugin_routes(plugin::Host* host, const NewMessage& message,
                                                                    const std::vector<DueRecipient>& due,
                                                                    const Config& config, std::deque<Route>& own);
    boost::asio::awaitable<void> tell_plugins(plugin::Host& host, const NewMessage& message,
                                              const std::vector<DueRecipient>& due, const std::vector<Outcome>& outcomes);
    boost::asio::awaitable<void> settle_until_kept(std::vector<Outcome> outcomes, std::vector<Bounce> bounces, Millis now,
                                                   const std::string& id);
    std::vector<Bounce> bounces_for(const NewMessage& message, std::int64_t key, const std::vector<Outcome>& outcomes,
                                    const Config& config, Millis now);

    boost::asio::any_io_executor executor_;
    Store& store_;
    ConfigHolder& config_;
    MailerSet& mailers_;
    DeliveryMetrics& metrics_;
    PluginsNow plugins_;
    std::size_t capacity_;
    std::size_t room() const;  // recipients this loop may claim now

    std::size_t delivering_ = 0;  // recipients claimed whose relays have not answered yet
    std::size_t settling_ = 0;    // recipients answered whose outcomes the store has not kept yet
    bool stopping_ = false;
    bool woken_ = false;
    bool store_trouble_logged_ = false;
    boost::asio::steady_timer timer_;
    std::mt19937_64 random_;
};

using haineko::now_millis;  // core/time.hpp: now, as the queue keeps time

}  // namespace haineko::queue
