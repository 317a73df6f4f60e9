#include "relay/lmtp/client.hpp"

#include <sys/un.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "relay/smtp/session.hpp"

namespace haineko::lmtp {
namespace {

namespace asio = boost::asio;
using generic = asio::generic::stream_protocol;
using smtp::SmtpIoError;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::vector<generic::endpoint> endpoints_of(const Target& target) {
    std::vector<generic::endpoint> out;
    if (!target.socket.empty()) {
        // sockaddr_un holds 107 bytes of path; Asio would throw a system_error for more.
        if (target.socket.size() >= sizeof(sockaddr_un::sun_path))
            throw SmtpIoError(SmtpIoError::connect, "CONN", "socket path too long: " + target.socket);
        out.emplace_back(asio::local::stream_protocol::endpoint(target.socket));
        return out;
    }
    for (const auto& a : target.addresses)
        out.emplace_back(asio::ip::tcp::endpoint(a, static_cast<unsigned short>(target.port)));
    return out;
}

}  // namespace

Connection::Connection(asio::any_io_executor executor) : socket_(executor), deadline_(executor) {}

void Connection::close() {
    boost::system::error_code ec;
    socket_.shutdown(generic::socket::shutdown_both, ec);
    socket_.close(ec);
}

void Connection::fail(const boost::system::error_code& ec, std::string_view stage, SmtpIoError::Kind kind,
                      bool timed_out) {
    const std::string name(stage);
    close();
    if (timed_out) throw SmtpIoError(SmtpIoError::timeout, name, "Timeout waiting for the answer to " + name);
    if (ec == asio::error::eof || ec == asio::error::connection_reset)
        throw SmtpIoError(SmtpIoError::closed, name, "Connection closed by " + peer + " during " + name);
    throw SmtpIoError(kind, name, ec.message());
}

asio::awaitable<void> Connection::connect(const Target& target) {
    using namespace asio::experimental::awaitable_operators;
    peer = target.socket.empty() ? target.host + ":" + std::to_string(target.port) : target.socket;
    const auto endpoints = endpoints_of(target);
    if (endpoints.empty()) throw SmtpIoError(SmtpIoError::connect, "CONN", "no address to connect to for " + peer);
    boost::system::error_code ec;
    bool timed_out = false;
    // The next address is tried after a refusal or a timeout alike, as the SMTP client does.
    for (const auto& ep : endpoints) {
        close();
        deadline_.expires_after(target.timeout);
        auto first = co_await (socket_.async_connect(ep, use_tuple) || deadline_.async_wait(use_tuple));
        timed_out = first.index() == 1;
        if (timed_out) continue;
        std::tie(ec) = std::get<0>(first);
        if (!ec) co_return;
    }
    close();
    if (timed_out && endpoints.size() == 1)
        throw SmtpIoError(SmtpIoError::timeout, "CONN", "Timeout connecting to " + peer);
    throw SmtpIoError(SmtpIoError::connect, "CONN",
                      "cannot connect to " + peer + ": " + (timed_out ? std::string("timed out") : ec.message()));
}

asio::awaitable<smtp::RawReply> Connection::read_reply(std::string_view stage, Seconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    deadline_.expires_after(timeout);
    for (;;) {
        try {
            if (auto reply = parser_.next()) co_return std::move(*reply);
        } catch (const std::runtime_error& e) {
            close();
            throw SmtpIoError(SmtpIoError::protocol, std::string(stage), "Bad reply from " + peer + ": " + e.what());
        }
        auto first = co_await (socket_.async_read_some(asio::buffer(read_buffer_), use_tuple) ||
                               deadline_.async_wait(use_tuple));
        if (first.index() == 1) fail({}, stage, SmtpIoError::closed, true);
        auto [ec, n] = std::get<0>(first);
        if (ec) fail(ec, stage, SmtpIoError::closed, false);
        parser_.feed(std::string_view(read_buffer_.data(), n));
    }
}

asio::awaitable<void> Connection::write(const std::vector<asio::const_buffer>& pieces, std::string_view stage,
                                        Seconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    deadline_.expires_after(timeout);
    auto first = co_await (asio::async_write(socket_, pieces, use_tuple) || deadline_.async_wait(use_tuple));
    if (first.index() == 1) fail({}, stage, SmtpIoError::closed, true);
    if (auto [ec, n] = std::get<0>(first); ec) fail(ec, stage, SmtpIoError::closed, false);
}

asio::awaitable<smtp::RawReply> Connection::command(const std::string& line, std::string_view stage,
                                                    Seconds timeout) {
    const std::string text = line + "\r\n";
    std::vector<asio::const_buffer> pieces;  // named: GCC 12 and temporaries in co_await arguments
    pieces.push_back(asio::buffer(text));
    co_await write(pieces, stage, timeout);
    co_return co_await read_reply(stage, timeout);
}

asio::awaitable<void> open(Connection& conn, const Target& target) {
    co_await conn.connect(target);
    smtp::RawReply greeting = co_await conn.read_reply("CONN", target.timeout);
    if (greeting.code != 220) throw smtp::ReplyError{smtp::stage_error("CONN", greeting, "220", conn.peer)};
    const std::string lhlo_line = "LHLO " + target.lhlo;  // named: GCC 12 and temporaries in co_await
    smtp::RawReply lhlo = co_await conn.command(lhlo_line, "LHLO", target.timeout);
    if (lhlo.code != 250) throw smtp::ReplyError{smtp::stage_error("LHLO", lhlo, "250", conn.peer)};
    conn.caps = smtp::parse_ehlo(lhlo.lines);
}

}  // namespace haineko::lmtp
