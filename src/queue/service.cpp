#include "queue/service.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "plugin/services.hpp"
#include "relay/mailer.hpp"

namespace haineko::queue {

std::unique_ptr<Store> open_store(const Config& config) {
    if (config.queue.store == "postgresql")
        return open_postgres_store(StoreOptions{"", config.queue.url, config.node_id});
    const std::filesystem::path path(config.queue.path);
    const std::filesystem::path default_dir = std::filesystem::path(config.options.root) / "var";
    std::error_code ec;
    if (path.parent_path() == default_dir && !std::filesystem::exists(default_dir, ec))
        std::filesystem::create_directories(default_dir, ec);
    return open_sqlite_store(StoreOptions{config.queue.path, "", ""});
}

QueueService::QueueService(const std::vector<QueueLoop>& loops, ConfigHolder& holder, const Config& config)
    : store_(open_store(config)) {
    const std::size_t share = (static_cast<std::size_t>(config.queue.max_concurrency) + loops.size() - 1) / loops.size();
    for (const QueueLoop& loop : loops) {
        auto scheduler = std::make_unique<Scheduler>(loop.ctx->get_executor(), *store_, holder, *loop.mailers, share,
                                                     *loop.metrics, loop.plugins);
        Scheduler* s = scheduler.get();
        boost::asio::post(*loop.ctx, [s] { s->start(); });
        loop.on_stop->push_back([s] { s->stop(); });
        schedulers_.push_back(std::move(scheduler));
    }
    const QueueLoop& first = loops.front();
    webhooks_ = std::make_unique<WebhookSender>(first.ctx->get_executor(), *store_, holder, first.mailers->web());
    WebhookSender* w = webhooks_.get();
    boost::asio::post(*first.ctx, [w] { w->start(); });
    first.on_stop->push_back([w] { w->stop(); });
    store_->on_new_work([this] { wake(); });
    kv_ = std::make_unique<StoreKv>(*store_);
    for (const QueueLoop& loop : loops) loop.plugin_services->kv = kv_.get();
    kv_sweeper_ = std::make_unique<KvSweeper>(first.ctx->get_executor(), *store_);
    KvSweeper* sweeper = kv_sweeper_.get();
    boost::asio::post(*first.ctx, [sweeper] { sweeper->start(); });
    first.on_stop->push_back([sweeper] { sweeper->stop(); });
}

QueueService::~QueueService() {
    store_->on_new_work(nullptr);  // no wake-up may reach the schedulers, gone next
    // How well commits were shared over this run: a figure for tuning, said once at exit.
    const StoreStats st = store_->stats();
    spdlog::info("queue store: {} calls in {} commits{}", st.calls, st.commits,
                 st.round_trips ? fmt::format(", {} round trips to the database", st.round_trips) : "");
}

void QueueService::wake() {
    for (auto& s : schedulers_) s->wake();
    webhooks_->wake();
}

}  // namespace haineko::queue
