// Asynchronous DNS through c-ares on the event loop: MX records (with their TTL) and the
// addresses of a host. Answers are cached for the record's TTL. One resolver per loop.
#pragma once
#include <boost/asio.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace haineko::dns {

struct MxHost {
    int preference = 0;
    std::string host;
};

struct MxAnswer {
    enum Status { found, implicit, null_mx, nxdomain, failure } status = failure;
    std::vector<MxHost> hosts;  // sorted by preference; for implicit, the domain itself
    std::string error;          // for failure: what the resolver said
};

struct HostAnswer {
    enum Status { found, nxdomain, failure } status = failure;
    std::vector<boost::asio::ip::address> addresses;
    std::string error;
};

// Records of one type, as text (the plugins' haineko.dns.query).
struct RecordsAnswer {
    enum Status { found, nxdomain, nodata, timeout, servfail } status = servfail;
    std::vector<std::string> records;  // an address; "10 mx.example.net"; a TXT's strings joined; a name
    int ttl = 0;                       // the lowest of the records', seconds
};

class Resolver {
public:
    // servers: "IP", "IP:PORT" or "[IPv6]:PORT"; empty: the system's resolv.conf.
    Resolver(boost::asio::any_io_executor executor, const std::vector<std::string>& servers);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    boost::asio::awaitable<MxAnswer> mx(const std::string& domain);
    // An IP literal comes back as it is; names are looked up in /etc/hosts, then DNS.
    boost::asio::awaitable<HostAnswer> addresses(const std::string& host);

    // type: "A", "AAAA", "MX", "TXT" or "PTR" (for PTR, name may be an IP address). Not
    // cached. A cancelled wait (a hook's deadline) answers timeout at once.
    boost::asio::awaitable<RecordsAnswer> records(const std::string& name, const std::string& type);
    // The records of type out of a DNS answer (for tests and the fuzz target).
    static bool parse_records(const unsigned char* abuf, int alen, int type, std::vector<std::string>& out, int& min_ttl);

    // After a reload: lookups from now on use these servers (and a fresh cache); those
    // in flight finish on the old ones.
    void set_servers(const std::vector<std::string>& servers);

    // Records that did not fit the cache parsing: exposed for tests.
    static bool parse_mx_answer(const unsigned char* abuf, int alen, std::vector<MxHost>& hosts, int& min_ttl);

    struct Impl;

private:
    boost::asio::any_io_executor executor_;
    std::vector<std::string> servers_;
    std::shared_ptr<Impl> impl_;
};

}  // namespace haineko::dns
