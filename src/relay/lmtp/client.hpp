// An LMTP client connection (RFC 2033) over TCP or a Unix socket: the greeting, LHLO, and
// command/reply exchanges under a deadline each. LMTP is spoken to a backend on the same
// host or network (Dovecot, Cyrus), so it has no TLS and no AUTH here.
#pragma once
#include <boost/asio.hpp>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "relay/smtp/connection.hpp"
#include "relay/smtp/smtp_text.hpp"

namespace haineko::lmtp {

using smtp::Seconds;

struct Target {
    std::string host;                                  // for messages, and TCP
    std::vector<boost::asio::ip::address> addresses;   // resolved by the caller (TCP)
    int port = 24;
    std::string socket;                                // a Unix socket path: used instead of TCP
    Seconds timeout{59};
    std::string lhlo;                                  // our name
};

// Failures are smtp::SmtpIoError (the network, a deadline) with the stage named.
class Connection {
public:
    explicit Connection(boost::asio::any_io_executor executor);
    boost::asio::awaitable<void> connect(const Target& target);
    // Stages are string_views of literals: no temporaries with destructors in co_await
    // arguments, which GCC 12 mishandles.
    boost::asio::awaitable<smtp::RawReply> read_reply(std::string_view stage, Seconds timeout);
    boost::asio::awaitable<void> write(const std::vector<boost::asio::const_buffer>& pieces, std::string_view stage,
                                       Seconds timeout);
    boost::asio::awaitable<smtp::RawReply> command(const std::string& line, std::string_view stage, Seconds timeout);
    void close();

    smtp::Capabilities caps;
    std::string peer;  // host:port or the socket path, for messages

private:
    [[noreturn]] void fail(const boost::system::error_code& ec, std::string_view stage, smtp::SmtpIoError::Kind kind,
                           bool timed_out);

    boost::asio::generic::stream_protocol::socket socket_;
    boost::asio::steady_timer deadline_;
    smtp::ReplyParser parser_;
    std::array<char, 4096> read_buffer_{};
};

// Connected, greeted (220) and LHLO'd (250). Throws SmtpIoError or smtp::ReplyError.
boost::asio::awaitable<void> open(Connection& conn, const Target& target);

}  // namespace haineko::lmtp
