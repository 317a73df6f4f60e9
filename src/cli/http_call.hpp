// One HTTP/1.1 request from the command line to the running server (hainekoctl queue),
// blocking, with a deadline. nullopt when nothing answers on host:port.
#pragma once
#include <optional>
#include <string>

namespace haineko {

struct HttpAnswer {
    int status = 0;
    std::string body;
};

// credentials: "user:password" for Basic auth, or "".
std::optional<HttpAnswer> http_call(const std::string& host, int port, const std::string& method,
                                    const std::string& target, const std::string& body,
                                    const std::string& credentials, int timeout_seconds = 30);

}  // namespace haineko
