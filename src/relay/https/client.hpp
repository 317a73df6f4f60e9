// An asynchronous HTTP/1.1 client for mailers that speak HTTP (another Haineko, email
// clouds): Beast over TCP or TLS (SNI, certificate and host-name verification on by
// default), keep-alive connections pooled per host on the loop.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>

namespace haineko {
class TlsContexts;
namespace dns {
class Resolver;
}
}  // namespace haineko

namespace haineko::https {

namespace http = boost::beast::http;

struct Endpoint {
    std::string host;
    int port = 443;
    bool tls = true;
    bool verify = true;
    std::string ca_file;  // added to the system's trust store
};

struct Result {
    bool answered = false;  // a response was read
    bool timed_out = false;
    int status = 0;
    std::string body;
    http::fields headers;
    std::string error;      // why there is no answer
};

class Client {
public:
    // Host names resolve through resolver (c-ares); TLS contexts come from tls.
    Client(boost::asio::any_io_executor executor, dns::Resolver& resolver, TlsContexts& tls);
    ~Client();

    // Sends req (Host and Content-Length are set here) and reads the answer. A pooled
    // connection found closed before any answer is replaced once. Never throws.
    boost::asio::awaitable<Result> send(const Endpoint& endpoint, http::request<http::string_body> req,
                                        std::chrono::seconds timeout);

    std::size_t connections_opened() const { return opened_; }
    void close_idle();

    struct Connection;

private:
    boost::asio::awaitable<std::unique_ptr<Connection>> connect(const Endpoint& endpoint, std::chrono::seconds timeout,
                                                                std::string& error);

    boost::asio::any_io_executor executor_;
    dns::Resolver& resolver_;
    TlsContexts& tls_;
    std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle_;
    std::size_t opened_ = 0;
};

}  // namespace haineko::https
