#include "runtime/server_process.hpp"

#include <spdlog/spdlog.h>

#include "http/server.hpp"
#include "loops/runtime.hpp"
#include "queue/service.hpp"
#include "relay/mailer.hpp"
#include "smtpd/server.hpp"

namespace haineko {
namespace {

// Each event loop as the queue needs it: its executor, mailers, counters and plugins.
std::vector<queue::QueueLoop> queue_loops(Runtime& runtime) {
    std::vector<queue::QueueLoop> out;
    for (auto& loop : runtime.loops()) {
        queue::QueueLoop q;
        q.ctx = &loop->ctx;
        q.mailers = loop->mailers.get();
        q.metrics = &loop->metrics;
        // The delivery hooks run in the loop's plugin host for the configuration in force.
        q.plugins = [&runtime, l = loop.get()] { return plugins_for(*l, runtime.config().get()); };
        q.on_stop = &loop->on_stop;
        q.plugin_services = &loop->plugin_services;
        out.push_back(std::move(q));
    }
    return out;
}

}  // namespace

ServerProcess::ServerProcess(const Options& options, std::shared_ptr<const Config> config, int threads,
                             const std::string& http_host, int http_port)
    : runtime_(std::make_unique<Runtime>(options, config, threads)) {
    try {
        queue_ = std::make_unique<queue::QueueService>(queue_loops(*runtime_), runtime_->config(), *config);
    } catch (const std::exception& e) {
        spdlog::error("the queue cannot be opened ({}); /v1 answers 503 until a restart", e.what());
    }
    http_ = std::make_unique<HttpServer>(*runtime_, queue_.get());
    http_port_ = http_->listen(http_host, static_cast<unsigned short>(http_port));
    smtp_ = std::make_unique<SmtpServer>(*runtime_, queue_.get());
    for (const auto& listener : config->smtp.listen) {
        const unsigned short bound = smtp_->listen(listener);
        spdlog::info("SMTP listening on {} ({}, tls {}){}",
                     listener.address.ends_with(":0") ? listener.host + ":" + std::to_string(bound) : listener.address,
                     listener.mode_name(), listener.tls_name(), listener.origin == "--smtp" ? " from --smtp" : "");
    }
}

// The servers first, then the queue, then the loops they ran on.
ServerProcess::~ServerProcess() {
    smtp_.reset();
    http_.reset();
    queue_.reset();
    runtime_.reset();
}

std::size_t ServerProcess::loops() const { return runtime_->loops().size(); }

int ServerProcess::run(const std::function<void()>& on_ready) { return runtime_->run(on_ready); }

}  // namespace haineko
