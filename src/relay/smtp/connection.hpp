// One SMTP client connection on Asio coroutines: plain TCP, STARTTLS or implicit TLS.
// Every network wait runs under a deadline; when it passes, the socket is closed and the
// waiting operation fails with SmtpIoError{timeout}.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/smtp/smtp_text.hpp"

namespace haineko::smtp {

using Seconds = std::chrono::seconds;

// A failure below the SMTP dialogue: the network, the peer closing, TLS, or a deadline.
struct SmtpIoError : std::runtime_error {
    enum Kind { connect, timeout, closed, tls, protocol } kind;
    std::string stage;  // the command (or CONN) being waited on
    SmtpIoError(Kind k, std::string st, const std::string& what) : std::runtime_error(what), kind(k), stage(std::move(st)) {}
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
    using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

    Connection(boost::asio::any_io_executor executor, std::shared_ptr<boost::asio::ssl::context> tls);
    ~Connection();

    // To the given addresses in order; peer_name (host) is what messages call it.
    boost::asio::awaitable<void> connect(const std::string& host, int port,
                                         const std::vector<boost::asio::ip::address>& addresses, Seconds timeout);
    // TLS on the open connection: SNI and, when verify, certificate and host-name checks.
    // stage names it in errors: STARTTLS, or CONN for implicit TLS.
    boost::asio::awaitable<void> start_tls(const std::string& host, bool verify, Seconds timeout,
                                           const std::string& stage = "STARTTLS");
    boost::asio::awaitable<RawReply> read_reply(const std::string& stage, Seconds timeout);
    boost::asio::awaitable<void> write(std::string_view data, const std::string& stage, Seconds timeout);
    // Several pieces in one gathered write.
    boost::asio::awaitable<void> write(const std::vector<boost::asio::const_buffer>& pieces, const std::string& stage,
                                       Seconds timeout);
    boost::asio::awaitable<RawReply> command(const std::string& line, const std::string& stage, Seconds timeout);

    // Closes the socket at once; pending operations fail.
    void close();
    bool is_open() const;

    Capabilities caps;
    bool tls_active = false;
    int messages = 0;
    std::string peer;  // host:port, for messages
    std::string tls_description;  // "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up

private:
    void arm(Seconds timeout);
    void disarm();
    [[noreturn]] void fail(const boost::system::error_code& ec, const std::string& stage, SmtpIoError::Kind kind);
    boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buffer);

    std::shared_ptr<boost::asio::ssl::context> tls_;  // outlives the stream made from it
    Stream stream_;
    boost::asio::steady_timer deadline_;
    ReplyParser parser_;
    // Where replies are read into; a member, not a local of read_reply, whose coroutine
    // frame would otherwise be too big for Asio's frame recycling.
    std::array<char, 4096> read_buffer_{};
    bool timed_out_ = false;
    unsigned generation_ = 0;  // a deadline that fired after being re-armed is ignored
};

}  // namespace haineko::smtp
