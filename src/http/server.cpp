#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <thread>
#include <unordered_set>

#include "config/yaml_file.hpp"
#include "core/log.hpp"
#include "http/handlers.hpp"

namespace haineko {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

struct Connection {
    beast::tcp_stream* stream;
    bool busy = false;
};

struct Loop {
    asio::io_context ctx{1};
    std::optional<tcp::acceptor> acceptor;
    std::unique_ptr<MailerSet> mailers;
    std::unordered_set<Connection*> connections;
    bool stopping = false;
};

std::string peer_address(const tcp::endpoint& ep) {
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return a.to_string();
}

}  // namespace

struct Server::Impl {
    ListenOptions listen;
    Options options;
    ConfigHolder config;
    std::vector<std::unique_ptr<Loop>> loops;
    std::mutex stop_mutex;
    std::condition_variable stopped_cv;
    bool all_stopped = false;

    Impl(ListenOptions l, Options o, std::shared_ptr<const Config> c)
        : listen(std::move(l)), options(std::move(o)), config(std::move(c)) {}

    tcp::endpoint resolve_endpoint() {
        boost::system::error_code ec;
        auto addr = asio::ip::make_address(listen.host, ec);
        if (!ec) return {addr, listen.port};
        asio::io_context tmp;
        tcp::resolver resolver(tmp);
        auto results = resolver.resolve(listen.host, std::to_string(listen.port), ec);
        if (ec || results.empty()) throw std::runtime_error("cannot resolve listen address " + listen.host);
        return results.begin()->endpoint();
    }

    void open_acceptors() {
        tcp::endpoint ep = resolve_endpoint();
        for (auto& loop : loops) {
            loop->acceptor.emplace(loop->ctx);
            boost::system::error_code ec;
            loop->acceptor->open(ep.protocol(), ec);
            if (!ec) loop->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
            if (!ec) loop->acceptor->set_option(reuse_port(true), ec);
            if (!ec) loop->acceptor->bind(ep, ec);
            if (!ec) loop->acceptor->listen(asio::socket_base::max_listen_connections, ec);
            if (ec)
                throw std::runtime_error("cannot listen on " + listen.host + ":" + std::to_string(ep.port()) + ": " +
                                         ec.message());
            ep.port(loop->acceptor->local_endpoint().port());  // port 0: the others follow the first
        }
        spdlog::info("Haineko {} listening on {}:{} with {} event loop(s)", HAINEKO_VERSION, listen.host, ep.port(),
                     loops.size());
    }

    asio::awaitable<void> accept_loop(Loop& loop) {
        for (;;) {
            auto [ec, socket] = co_await loop.acceptor->async_accept(use_tuple);
            if (loop.stopping || ec == asio::error::operation_aborted) co_return;
            if (ec) {  // out of descriptors and the like: wait a little instead of spinning
                spdlog::warn("accept failed: {}", ec.message());
                asio::steady_timer pause(loop.ctx, std::chrono::milliseconds(100));
                co_await pause.async_wait(use_tuple);
                continue;
            }
            socket.set_option(tcp::no_delay(true), ec);
            asio::co_spawn(loop.ctx, serve(loop, std::move(socket)), asio::detached);
        }
    }

    // Answers a request that could not be read whole, then the connection closes.
    static asio::awaitable<void> refuse(beast::tcp_stream& stream, http::status status, std::string_view name,
                                        const Peer& peer, unsigned version) {
        Response res = error_response(status, "http", name, peer, version ? version : 11, false);
        stream.expires_after(std::chrono::seconds(5));
        co_await http::async_write(stream, res, use_tuple);
    }

    asio::awaitable<void> serve(Loop& loop, tcp::socket socket) {
        Peer peer;
        boost::system::error_code ec;
        auto remote = socket.remote_endpoint(ec);
        if (ec) co_return;
        peer.address = peer_address(remote);
        peer.port = remote.port();
        beast::tcp_stream stream(std::move(socket));
        Connection conn{&stream};
        loop.connections.insert(&conn);
        beast::flat_buffer buffer;
        try {
            co_await serve_requests(loop, stream, buffer, conn, peer);
        } catch (const std::exception& e) {
            spdlog::error("connection from {}:{} failed: {}", peer.address, peer.port, e.what());
        }
        loop.connections.erase(&conn);
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream.close();
    }

    asio::awaitable<void> serve_requests(Loop& loop, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                         Connection& conn, const Peer& peer) {
        for (;;) {
            conn.busy = false;
            if (loop.stopping) co_return;
            std::shared_ptr<const Config> cfg = config.get();
            const Settings& limits = cfg->smtpd;
            if (buffer.size() == 0) {  // idle: wait for the first byte of the next request
                stream.expires_after(std::chrono::seconds(limits.idle_timeout));
                auto [ec, n] = co_await stream.async_read_some(buffer.prepare(16 * 1024), use_tuple);
                if (ec) co_return;
                buffer.commit(n);
            }
            conn.busy = true;
            stream.expires_after(std::chrono::seconds(limits.read_timeout));
            http::request_parser<http::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(limits.max_header_size));
            parser.body_limit(cfg->request_body_limit());
            auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
            if (hec) {
                co_await refuse_after_error(stream, hec, peer, 11);
                co_return;
            }
            const unsigned version = parser.get().version();
            if (auto length = parser.content_length(); length && *length > cfg->request_body_limit()) {
                co_await refuse(stream, http::status::payload_too_large, "payload-too-large", peer, version);
                co_return;
            }
            if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                http::response<http::empty_body> go_on{http::status::continue_, version};
                auto [cec, cn] = co_await http::async_write(stream, go_on, use_tuple);
                if (cec) co_return;
            }
            auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
            if (bec) {
                co_await refuse_after_error(stream, bec, peer, version);
                co_return;
            }
            Request request = parser.release();
            stream.expires_never();  // relaying has timeouts of its own
            Response response = co_await handle_request(request, peer, cfg, *loop.mailers);
            if (loop.stopping) response.keep_alive(false);
            stream.expires_after(std::chrono::seconds(limits.read_timeout));
            auto [wec, wn] = co_await http::async_write(stream, response, use_tuple);
            if (wec || !response.keep_alive()) co_return;
        }
    }

    static asio::awaitable<void> refuse_after_error(beast::tcp_stream& stream, boost::system::error_code ec,
                                                    const Peer& peer, unsigned version) {
        if (ec == http::error::header_limit)
            co_await refuse(stream, http::status::request_header_fields_too_large, "header-too-large", peer, version);
        else if (ec == http::error::body_limit)
            co_await refuse(stream, http::status::payload_too_large, "payload-too-large", peer, version);
        else if (ec == beast::error::timeout)
            co_await refuse(stream, http::status::request_timeout, "request-timeout", peer, version);
        else if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != asio::error::connection_reset &&
                 ec != asio::error::operation_aborted && ec != http::error::partial_message)
            co_await refuse(stream, http::status::bad_request, "bad-request", peer, version);
    }

    void begin_stop(Loop& loop) {
        loop.stopping = true;
        boost::system::error_code ec;
        if (loop.acceptor) loop.acceptor->close(ec);
        // Idle keep-alive connections close now; busy ones finish their request first.
        for (Connection* c : loop.connections)
            if (!c->busy) c->stream->socket().cancel(ec);
        loop.mailers->drain();
    }

    void reload() {
        try {
            auto next = load_config(options);
            for (const auto& w : next->warnings) spdlog::warn("{}", w);
            configure_logging(*next);
            config.set(next);
            spdlog::info("configuration reloaded");
        } catch (const std::exception& e) {
            spdlog::error("reload failed, keeping the running configuration: {}", e.what());
        }
    }

    int run() {
        int threads = listen.threads > 0 ? listen.threads : static_cast<int>(std::thread::hardware_concurrency());
        if (threads <= 0) threads = 1;
        for (int i = 0; i < threads; ++i) {
            auto loop = std::make_unique<Loop>();
            loop->mailers = std::make_unique<MailerSet>(loop->ctx.get_executor(), static_cast<std::size_t>(threads),
                                                        config.get()->smtpd.dns_servers);
            loops.push_back(std::move(loop));
        }
        open_acceptors();
        Loop& first = *loops.front();
        asio::signal_set signals(first.ctx, SIGTERM, SIGINT, SIGHUP);
        std::function<void()> wait_signal;
        bool stopping = false;
        wait_signal = [&] {
            signals.async_wait([&](boost::system::error_code ec, int sig) {
                if (ec) return;
                if (sig == SIGHUP) {
                    reload();
                    wait_signal();
                    return;
                }
                spdlog::info("signal {}: finishing requests in flight, then stopping", sig);
                stopping = true;
                for (auto& loop : loops) asio::post(loop->ctx, [this, l = loop.get()] { begin_stop(*l); });
                signals.cancel();
                start_watchdog();
            });
        };
        wait_signal();
        for (auto& loop : loops) asio::co_spawn(loop->ctx, accept_loop(*loop), asio::detached);
        std::vector<std::thread> workers;
        for (size_t i = 1; i < loops.size(); ++i) workers.emplace_back([l = loops[i].get()] { l->ctx.run(); });
        first.ctx.run();
        for (auto& t : workers) t.join();
        {
            std::lock_guard lock(stop_mutex);
            all_stopped = true;
        }
        stopped_cv.notify_all();
        if (watchdog.joinable()) watchdog.join();
        spdlog::info("stopped");
        return 0;
    }

    std::thread watchdog;
    // A client that never finishes its request must not keep the server from stopping.
    void start_watchdog() {
        watchdog = std::thread([this] {
            std::unique_lock lock(stop_mutex);
            if (!stopped_cv.wait_for(lock, std::chrono::seconds(30), [this] { return all_stopped; })) {
                spdlog::warn("requests still in flight after 30 s; stopping anyway");
                for (auto& loop : loops) loop->ctx.stop();
            }
        });
    }
};

Server::Server(ListenOptions listen, Options options, std::shared_ptr<const Config> initial)
    : impl_(std::make_unique<Impl>(std::move(listen), std::move(options), std::move(initial))) {}
Server::~Server() = default;
int Server::run() { return impl_->run(); }

}  // namespace haineko
