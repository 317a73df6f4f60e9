// The HTTP side of the runtime: serves each accepted connection on its loop, reads
// requests within their limits and deadlines, hands them to the endpoints, and answers
// slow, oversized or broken requests with a JSON error before closing.
#pragma once
#include <memory>
#include <string>

#include "runtime/runtime.hpp"

namespace haineko {

class HttpServer {
public:
    explicit HttpServer(Runtime& runtime);
    ~HttpServer();
    // Binds host:port (throws ListenError); returns the bound port.
    unsigned short listen(const std::string& host, unsigned short port);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace haineko
