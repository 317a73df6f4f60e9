// The HTTP side of the runtime: serves each accepted connection on its loop, reads
// requests within their limits and deadlines, hands them to the endpoints, and answers
// slow, oversized or broken requests with a JSON error before closing.
#pragma once
#include <memory>
#include <string>

#include "loops/runtime.hpp"

namespace haineko {

namespace queue {
class QueueService;
}

class HttpServer {
public:
    // queue: for /v1 (null: /v1 answers 503).
    HttpServer(Runtime& runtime, queue::QueueService* queue);
    ~HttpServer();
    // Binds host:port (throws ListenError); returns the bound port.
    unsigned short listen(const std::string& host, unsigned short port);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace haineko
