// The composition root: one running server made of its parts. The event loops (loops/),
// the queue with a scheduler on each loop, the HTTP server and the SMTP listeners, put
// together in the order they depend on each other and taken apart in the reverse order.
// hainekoctl only parses flags, keeps the pid file and detaches; everything else is here.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace haineko {

class Runtime;
class HttpServer;
class SmtpServer;
namespace queue {
class QueueService;
}

class ServerProcess {
public:
    // Binds every listener now: throws ListenError (loops/runtime.hpp) when one cannot be.
    // Without its queue the server still serves /submit, as the original did; /v1 answers
    // 503 queue-unavailable, and the log says why once.
    ServerProcess(const Options& options, std::shared_ptr<const Config> config, int threads,
                  const std::string& http_host, int http_port);
    ~ServerProcess();

    unsigned short http_port() const { return http_port_; }
    std::size_t loops() const;
    // Serves until SIGTERM or SIGINT, then drains; on_ready runs once all is bound.
    int run(const std::function<void()>& on_ready);

private:
    std::unique_ptr<Runtime> runtime_;
    std::unique_ptr<queue::QueueService> queue_;
    std::unique_ptr<HttpServer> http_;
    std::unique_ptr<SmtpServer> smtp_;
    unsigned short http_port_ = 0;
};

}  // namespace haineko
