#include "relay/https/client.hpp"

#include "core/tls.hpp"
#include "relay/dns/resolver.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace haineko::https {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kMaxAnswer = 16u << 20;
constexpr auto kIdleLimit = std::chrono::seconds(30);

std::string key_of(const Endpoint& e) {
    return e.host + "|" + std::to_string(e.port) + "|" + (e.tls ? "tls" : "plain") + "|" + (e.verify ? "v" : "nv") +
           "|" + e.ca_file;
}

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

struct Client::Connection {
    std::shared_ptr<asio::ssl::context> tls;  // outlives the stream that uses it
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    Clock::time_point last_used = Clock::now();

    beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

    template <class Message>
    asio::awaitable<boost::system::error_code> write(Message& m) {
        auto [ec, n] = secure ? co_await http::async_write(*secure, m, use_tuple) : co_await http::async_write(*plain, m, use_tuple);
        co_return ec;
    }
    template <class Parser>
    asio::awaitable<boost::system::error_code> read(Parser& p) {
        auto [ec, n] = secure ? co_await http::async_read(*secure, buffer, p, use_tuple)
                              : co_await http::async_read(*plain, buffer, p, use_tuple);
        co_return ec;
    }
};

Client::Client(asio::any_io_executor executor, dns::Resolver& resolver, TlsContexts& tls)
    : executor_(std::move(executor)), resolver_(resolver), tls_(tls) {}
Client::~Client() = default;

asio::awaitable<std::unique_ptr<Client::Connection>> Client::connect(const Endpoint& e, std::chrono::seconds timeout,
                                                                     std::string& error) {
    auto conn = std::make_unique<Connection>();
    dns::HostAnswer found = co_await resolver_.addresses(e.host);
    if (found.status != dns::HostAnswer::found) {
        error = "cannot resolve " + e.host + ": " + found.error;
        co_return nullptr;
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& a : found.addresses) endpoints.emplace_back(a, static_cast<unsigned short>(e.port));
    if (e.tls) {
        conn->tls = tls_.client(e.ca_file);
        conn->secure.emplace(executor_, *conn->tls);
    } else {
        conn->plain.emplace(executor_);
    }
    auto& low = conn->lowest();
    low.expires_after(timeout);
    auto [cec, ep] = co_await low.async_connect(endpoints, use_tuple);
    if (cec) {
        error = "cannot connect to " + e.host + ":" + std::to_string(e.port) + ": " + cec.message();
        co_return nullptr;
    }
    ++opened_;
    if (e.tls) {
        SSL* ssl = conn->secure->native_handle();
        if (!is_ip_literal(e.host)) SSL_set_tlsext_host_name(ssl, e.host.c_str());
        if (e.verify) {
            // OpenSSL checks the name itself, so a mismatch is reported as one.
            conn->secure->set_verify_mode(asio::ssl::verify_peer);
            if (is_ip_literal(e.host))
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), e.host.c_str());
            else
                SSL_set1_host(ssl, e.host.c_str());
        } else {
            conn->secure->set_verify_mode(asio::ssl::verify_none);
        }
        auto [hec] = co_await conn->secure->async_handshake(asio::ssl::stream_base::client, use_tuple);
        if (hec) {
            std::string reason = hec.message();
            if (long v = SSL_get_verify_result(ssl); v != X509_V_OK)
                reason = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
            error = "TLS handshake with " + e.host + ":" + std::to_string(e.port) + " failed: " + reason;
            co_return nullptr;
        }
    }
    co_return conn;
}

asio::awaitable<Result> Client::send(const Endpoint& e, http::request<http::string_body> req,
                                     std::chrono::seconds timeout) {
    const std::string key = key_of(e);
    const bool default_port = (e.tls && e.port == 443) || (!e.tls && e.port == 80);
    req.set(http::field::host, default_port ? e.host : e.host + ":" + std::to_string(e.port));
    req.keep_alive(true);
    req.prepare_payload();
    Result result;
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::unique_ptr<Connection> conn;
        auto& idle = idle_[key];
        while (!idle.empty() && !conn) {
            conn = std::move(idle.back());
            idle.pop_back();
            if (Clock::now() - conn->last_used > kIdleLimit) conn.reset();
        }
        const bool reused = conn != nullptr;
        if (!conn) {
            conn = co_await connect(e, timeout, result.error);
            if (!conn) co_return result;
        }
        conn->lowest().expires_after(timeout);
        auto wec = co_await conn->write(req);
        http::response_parser<http::string_body> parser;
        parser.body_limit(kMaxAnswer);
        boost::system::error_code rec = wec;
        if (!wec) rec = co_await conn->read(parser);
        if (rec) {
            const bool stale = reused && !parser.got_some() &&
                               (rec == asio::error::eof || rec == asio::error::connection_reset ||
                                rec == http::error::end_of_stream || rec == asio::error::broken_pipe ||
                                rec == asio::ssl::error::stream_truncated);
            if (stale && attempt == 0) continue;  // the server closed it while it idled
            result.timed_out = rec == beast::error::timeout;
            result.error = result.timed_out ? "no answer from " + e.host + " in " + std::to_string(timeout.count()) + " s"
                                            : "HTTP exchange with " + e.host + " failed: " + rec.message();
            co_return result;
        }
        auto response = parser.release();
        result.answered = true;
        result.status = static_cast<int>(response.result_int());
        result.body = std::move(response.body());
        for (const auto& f : response) result.headers.insert(f.name_string(), f.value());
        if (response.keep_alive()) {
            conn->lowest().expires_never();
            conn->last_used = Clock::now();
            idle_[key].push_back(std::move(conn));
        }
        co_return result;
    }
    co_return result;
}

}  // namespace haineko::https

namespace haineko::https {
void Client::close_idle() { idle_.clear(); }
}  // namespace haineko::https
