// The queue in a running server: the store, and a scheduler on every event loop (each
// with its share of queue.max_concurrency and its loop's mailers). Intakes keep messages
// through store() and call wake() after each, so that delivery starts at once.
#pragma once
#include <memory>
#include <vector>

#include "queue/plugin_kv.hpp"
#include "queue/scheduler.hpp"
#include "queue/store.hpp"
#include "queue/webhooks.hpp"

namespace haineko {
class MailerSet;
namespace plugin {
struct Services;
}
}  // namespace haineko

namespace haineko::queue {

// One event loop as the queue uses it; the runtime makes these from its loops.
struct QueueLoop {
    boost::asio::io_context* ctx = nullptr;
    MailerSet* mailers = nullptr;
    DeliveryMetrics* metrics = nullptr;
    Scheduler::PluginsNow plugins;                  // the loop's plugins for the config in force
    std::vector<std::function<void()>>* on_stop = nullptr;  // run on the loop at a stop
    plugin::Services* plugin_services = nullptr;    // gets haineko.kv
};

class QueueService {
public:
    // Opens the configured store (throws StoreUnavailable, naming the file). The default
    // directory ROOT/var is made when missing; a configured one must exist.
    QueueService(const std::vector<QueueLoop>& loops, ConfigHolder& holder, const Config& config);
    ~QueueService();

    Store& store() { return *store_; }
    void wake();

private:
    std::unique_ptr<Store> store_;
    std::vector<std::unique_ptr<Scheduler>> schedulers_;
    std::unique_ptr<WebhookSender> webhooks_;
    std::unique_ptr<StoreKv> kv_;
    std::unique_ptr<KvSweeper> kv_sweeper_;
};

// The store a config names, opened (for the server and for tests).
std::unique_ptr<Store> open_store(const Config& config);

}  // namespace haineko::queue
