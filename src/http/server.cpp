#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "http/handlers.hpp"
#include "http/metrics.hpp"
#include "loops/live_connections.hpp"
#include "relay/mailer.hpp"

namespace haineko {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kAnswerWriteLimit = std::chrono::seconds(5);

// One connection's read deadline. When it passes, the read in progress is cancelled (not
// the socket closed, as Beast's own timeout does), so that a 408 can still be written.
class ReadDeadline {
public:
    explicit ReadDeadline(beast::tcp_stream& stream) : stream_(stream), timer_(stream.get_executor()) {}
    ~ReadDeadline() { state_->gone = true; }
    void arm(std::chrono::seconds after) {
        state_->expired = false;
        timer_.expires_after(after);
        timer_.async_wait([this, s = state_, generation = ++state_->generation](boost::system::error_code ec) {
            if (ec || s->gone || generation != s->generation) return;
            s->expired = true;
            stream_.socket().cancel(ec);
        });
    }
    void disarm() {
        ++state_->generation;
        timer_.cancel();
    }
    bool expired() const { return state_->expired; }

private:
    // Shared with the timer's handler, which may already be queued when the deadline goes
    // (the connection ended as the timer fired): it then finds gone set.
    struct State {
        unsigned generation = 0;
        bool expired = false;
        bool gone = false;
    };
    beast::tcp_stream& stream_;
    asio::steady_timer timer_;
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

// The answer as it goes on the wire, in one piece: status line, fields, body. (Beast's
// serializer is general and costs more than the rest of the answer; ours are all simple:
// a Content-Length and a string body.)
std::string wire_text(const Response& res) {
    std::string out;
    out.reserve(256 + res.body().size());
    out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out += std::to_string(res.result_int());
    out += ' ';
    out.append(res.reason());
    out += "\r\n";
    for (const auto& field : res) {
        out.append(field.name_string());
        out += ": ";
        out.append(field.value());
        out += "\r\n";
    }
    out += "\r\n";
    out += res.body();
    return out;
}

struct Connection {
    beast::tcp_stream* stream;
    bool busy = false;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
    Runtime& runtime;
    queue::QueueService* queue = nullptr;
    std::unique_ptr<MetricsScrape> metrics;
    // At a stop, idle keep-alive connections close now; busy ones finish their request first.
    LiveConnections<Connection> live;

    explicit Impl(Runtime& rt)
        : runtime(rt), live(rt, [](Connection& c) {
              boost::system::error_code ec;
              if (!c.busy) c.stream->socket().cancel(ec);
          }) {}

    // Answers a request that could not be read whole, then the connection closes.
    static asio::awaitable<void> refuse(beast::tcp_stream& stream, http::status status, std::string_view name,
                                        const ClientFacts& client, unsigned version) {
        Response res = error_response(status, "http", name, client, version ? version : 11, false);
        const std::string wire = wire_text(res);
        stream.expires_after(kAnswerWriteLimit);
        co_await asio::async_write(stream, asio::buffer(wire), use_tuple);
    }

    static ClientFacts partial_facts(const http::request_parser<http::string_body>& parser, const Peer& peer,
                                     const Config& config) {
        return client_facts(parser.get(), peer, config);
    }

    asio::awaitable<void> serve(Loop& loop, tcp::socket socket, ConnectionSlot slot) {
        Peer peer;
        boost::system::error_code ec;
        auto remote = socket.remote_endpoint(ec);
        if (ec) co_return;
        peer.address = client_address_of(remote);
        peer.port = remote.port();
        if (auto local = socket.local_endpoint(ec); !ec) {
            peer.local_address = client_address_of(local);
            peer.local_port = local.port();
        }
        beast::tcp_stream stream(std::move(socket));
        Connection conn{&stream};
        const LiveConnections<Connection>::Entry listed(live, loop, conn);
        beast::flat_buffer buffer;
        try {
            co_await serve_requests(loop, stream, buffer, conn, peer);
        } catch (const std::exception& e) {
            spdlog::error("connection from {}:{} failed: {}", peer.address, peer.port, e.what());
        }
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream.close();
        (void)slot;  // held until here: the connection counts against max_connections
    }

    asio::awaitable<void> serve_requests(Loop& loop, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                         Connection& conn, const Peer& peer) {
        ReadDeadline deadline(stream);
        for (;;) {
            conn.busy = false;
            if (loop.stopping) co_return;
            std::shared_ptr<const Config> cfg = runtime.config().get();
            const Settings& limits = cfg->smtpd;
            if (buffer.size() == 0) {
                // A connection may idle before a request; past idle_timeout it just closes,
                // as there is no request to answer.
                deadline.arm(std::chrono::seconds(limits.idle_timeout));
                auto [ec, n] = co_await stream.async_read_some(buffer.prepare(16 * 1024), use_tuple);
                deadline.disarm();
                if (ec) co_return;
                buffer.commit(n);
            }
            // From its first byte, the whole request must arrive within read_timeout.
            conn.busy = true;
            deadline.arm(std::chrono::seconds(limits.read_timeout));
            http::request_parser<http::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(limits.max_header_size));
            parser.body_limit(cfg->request_body_limit());
            auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
            if (hec) {
                deadline.disarm();
                co_await refuse_after_error(stream, hec, deadline.expired(), partial_facts(parser, peer, *cfg), 11);
                co_return;
            }
            const unsigned version = parser.get().version();
            if (auto length = parser.content_length(); length && *length > cfg->request_body_limit()) {
                deadline.disarm();
                co_await refuse(stream, http::status::payload_too_large, "payload-too-large",
                                partial_facts(parser, peer, *cfg), version);
                co_return;
            }
            if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                http::response<http::empty_body> go_on{http::status::continue_, version};
                auto [cec, cn] = co_await http::async_write(stream, go_on, use_tuple);
                if (cec) co_return;
            }
            auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
            deadline.disarm();
            if (bec) {
                co_await refuse_after_error(stream, bec, deadline.expired(), partial_facts(parser, peer, *cfg), version);
                co_return;
            }
            Request request = parser.release();
            // Each request is one session to the plugins.
            Peer session = peer;
            session.plugins = plugins_for(loop, cfg);
            if (session.plugins) session.session_id = next_session_id(loop);
            Response response = co_await handle_request(request, session, cfg, *loop.mailers, queue, metrics.get());
            loop.metrics.count_http(endpoint_label(request.target().substr(0, request.target().find('?'))), response.result_int());
            if (loop.stopping) response.keep_alive(false);
            const std::string wire = wire_text(response);
            stream.expires_after(std::chrono::seconds(limits.read_timeout));
            auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(wire), use_tuple);
            stream.expires_never();
            if (wec || !response.keep_alive()) co_return;
        }
    }

    static asio::awaitable<void> refuse_after_error(beast::tcp_stream& stream, boost::system::error_code ec,
                                                    bool timed_out, const ClientFacts& client, unsigned version) {
        if (timed_out)
            co_await refuse(stream, http::status::request_timeout, "request-timeout", client, version);
        else if (ec == http::error::header_limit)
            co_await refuse(stream, http::status::request_header_fields_too_large, "header-too-large", client, version);
        else if (ec == http::error::body_limit)
            co_await refuse(stream, http::status::payload_too_large, "payload-too-large", client, version);
        else if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != asio::error::connection_reset &&
                 ec != asio::error::operation_aborted && ec != http::error::partial_message)
            co_await refuse(stream, http::status::bad_request, "bad-request", client, version);
    }
};

HttpServer::HttpServer(Runtime& runtime, queue::QueueService* queue) : impl_(std::make_shared<Impl>(runtime)) {
    impl_->queue = queue;
    impl_->metrics = std::make_unique<MetricsScrape>(runtime, queue);
}
HttpServer::~HttpServer() = default;

unsigned short HttpServer::listen(const std::string& host, unsigned short port) {
    auto impl = impl_;
    return impl_->runtime.listen(
        host, port,
        [impl](Loop& loop, tcp::socket socket, ConnectionSlot slot) {
            asio::co_spawn(loop.ctx, impl->serve(loop, std::move(socket), std::move(slot)), asio::detached);
        },
        [](const std::string& address, int port) { return too_many_connections_answer(address, port); });
}

}  // namespace haineko
