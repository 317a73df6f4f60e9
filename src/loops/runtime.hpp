// The process runtime: one event loop per core, the listeners that feed them, signals
// (SIGTERM/SIGINT stop, SIGHUP reloads) and the drain at shutdown. Services (HTTP now,
// SMTP later) plug in with listen(); nothing here knows a protocol.
#pragma once
#include <boost/asio.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "plugin/services.hpp"
#include "loops/loop_metrics.hpp"

namespace haineko {

class MailerSet;
namespace plugin {
class Host;
}

// One event loop and what lives on it; only its own thread touches it.
struct Loop {
    boost::asio::io_context ctx{1};
    std::unique_ptr<MailerSet> mailers;
    bool stopping = false;
    std::vector<std::function<void()>> on_stop;  // each service's drain, run on this loop
    std::size_t index = 0;
    LoopMetrics metrics;  // written by this loop only; /metrics copies it on this loop
    // This loop's plugins (one Lua state), for the configuration they were loaded from.
    std::shared_ptr<plugin::Host> plugins;
    std::shared_ptr<const Config> plugins_config;
    plugin::Services plugin_services;  // set by the services that back the API (the queue: kv)
    std::unique_ptr<plugin::Dns> plugin_dns;  // haineko.dns on this loop's resolver
    std::unique_ptr<plugin::Http> plugin_http;  // haineko.http on this loop's HTTPS client
    std::uint64_t sessions = 0;  // sessions begun on this loop, for their ids
};

// The loop's plugin host for this configuration: the one it has when the plugins did not
// change, else a new one (sessions that hold the old one keep it until they end). Null
// when there are no plugins, or when they fail to load (logged; reload checks first).
std::shared_ptr<plugin::Host> plugins_for(Loop& loop, const std::shared_ptr<const Config>& config);

// A session id unique on this node ("L3-1a2b").
std::string next_session_id(Loop& loop);

// A listener could not be set up; the message names the address and port.
struct ListenError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Held by a connection for its whole life: counts it against max_connections.
class ConnectionSlot {
public:
    // open: the process-wide count; on_loop: the serving loop's own count.
    ConnectionSlot(std::shared_ptr<std::atomic<std::size_t>> open, std::atomic<std::size_t>* on_loop)
        : open_(std::move(open)), on_loop_(on_loop) {
        ++*open_;
        ++*on_loop_;
    }
    ConnectionSlot(ConnectionSlot&& other) noexcept
        : open_(std::move(other.open_)), on_loop_(std::exchange(other.on_loop_, nullptr)) {}
    ConnectionSlot& operator=(ConnectionSlot&&) = delete;
    ConnectionSlot(const ConnectionSlot&) = delete;
    ~ConnectionSlot() {
        if (open_) --*open_;
        if (on_loop_) --*on_loop_;
    }

private:
    std::shared_ptr<std::atomic<std::size_t>> open_;
    std::atomic<std::size_t>* on_loop_;
};

using AcceptHandler = std::function<void(Loop&, boost::asio::ip::tcp::socket, ConnectionSlot)>;
// The answer for a connection over max_connections (written briefly, best effort, before
// it is closed), given the client's address and port.
using ShedHandler = std::function<std::string(const std::string& address, int port)>;

class Runtime {
public:
    Runtime(Options options, std::shared_ptr<const Config> initial, int threads);
    ~Runtime();

    ConfigHolder& config();
    std::vector<std::unique_ptr<Loop>>& loops();

    // Binds host:port now (throws ListenError, never with SO_REUSEPORT, so a taken port is
    // an error rather than a shared one); accepting starts with run(). Each connection
    // goes to the loop with the fewest. Returns the bound port (for port 0).
    unsigned short listen(const std::string& host, unsigned short port, AcceptHandler on_accept, ShedHandler shed);

    // Serves until SIGTERM or SIGINT, then drains and returns 0. SIGHUP reloads.
    // on_ready runs once every listener is bound and signals are set, before serving.
    int run(const std::function<void()>& on_ready = {});

    // The most connections served at once (max_connections, or its default).
    std::size_t max_connections() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// An accepted client's address as text; an IPv4 client on a dual-stack socket
// (::ffff:192.0.2.1) as plain IPv4, as relayhosts and the logs expect it.
std::string client_address_of(const boost::asio::ip::tcp::endpoint& endpoint);

// max_connections when haineko.cf does not say: most of the descriptors this process may
// open, keeping room for relay sessions, files and DNS.
std::size_t default_max_connections();

}  // namespace haineko
