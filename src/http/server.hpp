// The HTTP server: one event loop per core, each with its own acceptor on the same port
// (SO_REUSEPORT), its own connections and its own mailers, so loops share nothing but the
// read-only configuration snapshot.
#pragma once
#include <memory>
#include <string>

#include "config/config.hpp"

namespace haineko {

struct ListenOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 2794;
    int threads = 0;  // 0: one per core
};

class Server {
public:
    Server(ListenOptions listen, Options options, std::shared_ptr<const Config> initial);
    ~Server();
    // Serves until SIGTERM or SIGINT, then finishes the requests in flight and returns 0.
    // SIGHUP reloads every config file. Throws std::runtime_error when it cannot listen.
    int run();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace haineko
