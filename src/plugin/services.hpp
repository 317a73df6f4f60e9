// What the plugin host reaches outside itself, as interfaces that the rooms above it
// implement (the layer rule: plugin/ links nothing above it): the shared key-value store
// of haineko.kv (the queue's database, so that a cluster shares it).
#pragma once
#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

namespace haineko::plugin {

// Keys of at most 1,024 octets and values of at most 65,536 (checked by the API). A key
// whose time to live ran out is absent. Calls throw std::runtime_error when the store
// cannot answer.
class Kv {
public:
    virtual ~Kv() = default;
    virtual boost::asio::awaitable<std::optional<std::string>> get(std::string key) = 0;
    // ttl in seconds; none: the key lives until it is deleted or set again.
    virtual boost::asio::awaitable<void> set(std::string key, std::string value, std::optional<long long> ttl) = 0;
    // A missing (or expired) key counts from 0 and gets ttl; an existing one keeps its own.
    virtual boost::asio::awaitable<long long> incr(std::string key, long long by, std::optional<long long> ttl) = 0;
    virtual boost::asio::awaitable<void> del(std::string key) = 0;
};

// haineko.dns.query: the records of one type, as text.
struct DnsAnswer {
    std::vector<std::string> records;
    int ttl = 0;
    std::string error;  // "" when found; else nxdomain, nodata, timeout or servfail
};

class Dns {
public:
    virtual ~Dns() = default;
    // type: A, AAAA, MX, TXT or PTR. A cancelled wait answers at once.
    virtual boost::asio::awaitable<DnsAnswer> query(std::string name, std::string type) = 0;
};

// haineko.http.request: one HTTP(S) exchange; https verifies the certificate.
struct HttpCall {
    std::string method = "GET";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    int timeout = 10;  // seconds
};

struct HttpAnswer {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string error;  // "" when answered
};

class Http {
public:
    virtual ~Http() = default;
    virtual boost::asio::awaitable<HttpAnswer> request(HttpCall call) = 0;
};

struct Services {
    Kv* kv = nullptr;    // null: haineko.kv answers an error (no queue)
    Dns* dns = nullptr;  // the loop's resolver (the MX mailer's)
    Http* http = nullptr;  // the loop's HTTPS client (the clouds')
};

}  // namespace haineko::plugin
