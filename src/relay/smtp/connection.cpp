#include "relay/smtp/connection.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace haineko::smtp {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

Connection::Connection(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls)
    : tls_(std::move(tls)), stream_(executor, *tls_), deadline_(executor) {}

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
    deadline_.expires_after(timeout);
    deadline_.async_wait([weak = weak_from_this(), generation = ++generation_](boost::system::error_code ec) {
        if (ec) return;
        if (auto self = weak.lock(); self && self->generation_ == generation) {
            self->timed_out_ = true;
            boost::system::error_code ignored;
            self->stream_.next_layer().close(ignored);
        }
    });
}

void Connection::disarm() {
    ++generation_;
    deadline_.cancel();
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
    if (addresses.empty()) throw SmtpIoError(SmtpIoError::connect, "CONN", "no address to connect to for " + host);
    std::vector<tcp::endpoint> endpoints;
    for (const auto& a : addresses) endpoints.emplace_back(a, static_cast<unsigned short>(port));
    arm(timeout);
    auto [cec, ep] = co_await asio::async_connect(stream_.next_layer(), endpoints, use_tuple);
    if (cec) fail(cec, "CONN", SmtpIoError::connect);
    disarm();
    boost::system::error_code ignored;
    stream_.next_layer().set_option(tcp::no_delay(true), ignored);
}

asio::awaitable<void> Connection::start_tls(const std::string& host, bool verify, Seconds timeout,
                                            const std::string& stage) {
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
        if (timed_out_) throw SmtpIoError(SmtpIoError::timeout, stage, "Timeout in the TLS handshake with " + peer);
        std::string reason = ec.message();
        if (long v = SSL_get_verify_result(ssl); v != X509_V_OK)
            reason = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
        close();
        throw SmtpIoError(SmtpIoError::tls, stage, "TLS handshake with " + peer + " failed: " + reason);
    }
    disarm();
    tls_active = true;
    tls_description = std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

asio::awaitable<std::size_t> Connection::read_some(asio::mutable_buffer buffer) {
    if (tls_active) co_return co_await stream_.async_read_some(buffer, asio::use_awaitable);
    co_return co_await stream_.next_layer().async_read_some(buffer, asio::use_awaitable);
}

asio::awaitable<RawReply> Connection::read_reply(const std::string& stage, Seconds timeout) {
    arm(timeout);
    for (;;) {
        try {
            if (auto reply = parser_.next()) {
                disarm();
                co_return std::move(*reply);
            }
        } catch (const std::runtime_error& e) {
            disarm();
            close();
            throw SmtpIoError(SmtpIoError::protocol, stage, "Bad reply from " + peer + ": " + e.what());
        }
        std::size_t n = 0;
        try {
            n = co_await read_some(asio::buffer(read_buffer_));
        } catch (const boost::system::system_error& e) {
            fail(e.code(), stage, SmtpIoError::closed);
        }
        parser_.feed(std::string_view(read_buffer_.data(), n));
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
