// Sends one message to one recipient over a pooled SMTP session: takes a warm session
// (RSET) or opens one (connect, TLS, EHLO/HELO, STARTTLS, AUTH), then MAIL, RCPT and DATA,
// pipelined when the server offers PIPELINING. The mailers (ESMTP, MX) add retries.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <map>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "core/reply.hpp"
#include "message/builder.hpp"
#include "relay/smtp/pool.hpp"

namespace haineko::smtp {

struct Target {
    std::string host;
    std::vector<boost::asio::ip::address> addresses;  // when set, connect here instead of resolving host
    int port = 25;
    bool implicit_tls = false;
    bool starttls = false;
    bool verify = true;
    bool auth_plaintext = false;
    const Credential* credential = nullptr;
    Seconds timeout{59};
    std::string helo;  // our EHLO name
};

class Transport {
public:
    Transport(boost::asio::any_io_executor executor, std::size_t loops);
    ~Transport();

    // One attempt. A pooled session found dead is replaced once, transparently.
    // Never throws: every failure is a reply.
    boost::asio::awaitable<Reply> send(const Target& target, const std::string& mail, const std::string& rcpt,
                                       const BuiltMessage& message, const Settings& settings);

    Pool& pool() { return pool_; }

private:
    boost::asio::ssl::context& tls_context(const std::string& ca_file);
    boost::asio::awaitable<std::shared_ptr<Connection>> open(const Target& target, const Settings& settings);
    // reset_first: a reused session whose RSET goes in the same pipelined write.
    boost::asio::awaitable<Reply> transaction(Connection& conn, const Target& target, const std::string& mail,
                                              const std::string& rcpt, const BuiltMessage& message, bool reset_first);
    boost::asio::awaitable<void> authenticate(Connection& conn, const Target& target);
    void quit_and_close(std::shared_ptr<Connection> conn);

    boost::asio::any_io_executor executor_;
    std::size_t loops_;
    Pool pool_;
    std::map<std::string, std::unique_ptr<boost::asio::ssl::context>> tls_contexts_;
};

// The target of a route's SMTP mailer (ESMTP or MX), for host.
Target target_for(const Route& route, const Config& config, const Credential* credential, const std::string& host);

}  // namespace haineko::smtp
