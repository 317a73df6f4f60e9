#include "relay/smtp/connection.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace haineko::smtp {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxLine = 4096;   // RFC 5321 says 512; servers say more
constexpr std::size_t kMaxLines = 200;

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

Connection::Connection(asio::any_io_executor executor, asio::ssl::context& tls)
    : stream_(executor, tls), deadline_(executor) {}

Connection::~Connection() { close(); }

bool Connection::is_open() const { return stream_.next_layer().is_open(); }

void Connection::close() {
    boost::system::error_code ec;
    deadline_.cancel();
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_.next_layer().close(ec);
}

void Connection::arm(Seconds timeout) {
    timed_out_ = false;
    on_expired_ = nullptr;
    deadline_.expires_after(timeout);
    deadline_.async_wait([weak = weak_from_this(), generation = ++generation_](boost::system::error_code ec) {
        if (ec) return;
        if (auto self = weak.lock(); self && self->generation_ == generation) {
            self->timed_out_ = true;
            boost::system::error_code ignored;
            self->stream_.next_layer().close(ignored);
            if (auto expired = std::move(self->on_expired_)) expired();
        }
    });
}

void Connection::disarm() {
    ++generation_;
    on_expired_ = nullptr;
    deadline_.cancel();
}

void Connection::close_after(Seconds idle, std::function<void()> expired) {
    arm(idle);
    on_expired_ = std::move(expired);
}

void Connection::fail(const boost::system::error_code& ec, const std::string& stage, SmtpIoError::Kind kind) {
    disarm();
    if (timed_out_) throw SmtpIoError(SmtpIoError::timeout, stage, "Timeout waiting for the answer to " + stage);
    close();
    if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated)
        throw SmtpIoError(SmtpIoError::closed, stage, "Connection closed by " + peer + " during " + stage);
    throw SmtpIoError(kind, stage, ec.message());
}

asio::awaitable<void> Connection::connect(const std::string& host, int port,
                                          const std::vector<asio::ip::address>& addresses, Seconds timeout) {
    peer = host + ":" + std::to_string(port);
    if (!addresses.empty()) {
        std::vector<tcp::endpoint> endpoints;
        for (const auto& a : addresses) endpoints.emplace_back(a, static_cast<unsigned short>(port));
        arm(timeout);
        auto [cec, ep] = co_await asio::async_connect(stream_.next_layer(), endpoints, use_tuple);
        if (cec) fail(cec, "CONN", SmtpIoError::connect);
        disarm();
        boost::system::error_code ignored;
        stream_.next_layer().set_option(tcp::no_delay(true), ignored);
        co_return;
    }
    auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver(executor);
    arm(timeout);
    auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), use_tuple);
    if (timed_out_) fail(rec, "CONN", SmtpIoError::connect);
    if (rec) {
        disarm();
        throw SmtpIoError(SmtpIoError::connect, "CONN", "cannot resolve " + host + ": " + rec.message());
    }
    auto [cec, ep] = co_await asio::async_connect(stream_.next_layer(), results, use_tuple);
    if (cec) fail(cec, "CONN", SmtpIoError::connect);
    disarm();
    boost::system::error_code ignored;
    stream_.next_layer().set_option(tcp::no_delay(true), ignored);
}

asio::awaitable<void> Connection::start_tls(const std::string& host, bool verify, Seconds timeout) {
    SSL* ssl = stream_.native_handle();
    if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
    if (verify) {
        // OpenSSL checks the name itself, so a mismatch is reported as one.
        stream_.set_verify_mode(asio::ssl::verify_peer);
        if (is_ip_literal(host))
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
        else
            SSL_set1_host(ssl, host.c_str());
    } else {
        stream_.set_verify_mode(asio::ssl::verify_none);
    }
    arm(timeout);
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (ec) {
        disarm();
        if (timed_out_) throw SmtpIoError(SmtpIoError::timeout, "STARTTLS", "Timeout in the TLS handshake with " + peer);
        std::string reason = ec.message();
        if (long v = SSL_get_verify_result(ssl); v != X509_V_OK)
            reason = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
        close();
        throw SmtpIoError(SmtpIoError::tls, "STARTTLS", "TLS handshake with " + peer + " failed: " + reason);
    }
    disarm();
    tls_active = true;
}

asio::awaitable<std::size_t> Connection::read_some(asio::mutable_buffer buffer) {
    if (tls_active) co_return co_await stream_.async_read_some(buffer, asio::use_awaitable);
    co_return co_await stream_.next_layer().async_read_some(buffer, asio::use_awaitable);
}

asio::awaitable<RawReply> Connection::read_reply(const std::string& stage, Seconds timeout) {
    RawReply reply;
    arm(timeout);
    char chunk[4096];
    for (;;) {
        // Take every whole line already read.
        size_t eol;
        while ((eol = inbox_.find('\n')) != std::string::npos) {
            std::string line = inbox_.substr(0, eol);
            inbox_.erase(0, eol + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
                !std::isdigit(static_cast<unsigned char>(line[1])) || !std::isdigit(static_cast<unsigned char>(line[2])) ||
                (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
                disarm();
                close();
                throw SmtpIoError(SmtpIoError::protocol, stage, "Not an SMTP reply from " + peer + ": " + line.substr(0, 100));
            }
            reply.code = std::stoi(line.substr(0, 3));
            bool last = line.size() == 3 || line[3] == ' ';
            reply.lines.push_back(std::move(line));
            if (last) {
                disarm();
                co_return reply;
            }
            if (reply.lines.size() > kMaxLines) {
                disarm();
                close();
                throw SmtpIoError(SmtpIoError::protocol, stage, "Reply from " + peer + " has too many lines");
            }
        }
        if (inbox_.size() > kMaxLine) {
            disarm();
            close();
            throw SmtpIoError(SmtpIoError::protocol, stage, "Reply line from " + peer + " is too long");
        }
        std::size_t n = 0;
        try {
            n = co_await read_some(asio::buffer(chunk));
        } catch (const boost::system::system_error& e) {
            fail(e.code(), stage, SmtpIoError::closed);
        }
        inbox_.append(chunk, n);
    }
}

asio::awaitable<void> Connection::write(std::string_view data, const std::string& stage, Seconds timeout) {
    std::vector<asio::const_buffer> pieces;  // a named local: GCC 12 rejects the braced temporary here
    pieces.push_back(asio::buffer(data));
    co_await write(pieces, stage, timeout);
}

asio::awaitable<void> Connection::write(const std::vector<asio::const_buffer>& pieces, const std::string& stage,
                                        Seconds timeout) {
    arm(timeout);
    boost::system::error_code ec;
    if (tls_active)
        std::tie(ec, std::ignore) = co_await asio::async_write(stream_, pieces, use_tuple);
    else
        std::tie(ec, std::ignore) = co_await asio::async_write(stream_.next_layer(), pieces, use_tuple);
    if (ec) fail(ec, stage, SmtpIoError::closed);
    disarm();
}

asio::awaitable<RawReply> Connection::command(const std::string& line, const std::string& stage, Seconds timeout) {
    co_await write(line + "\r\n", stage, timeout);
    co_return co_await read_reply(stage, timeout);
}

}  // namespace haineko::smtp
