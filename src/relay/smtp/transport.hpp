// Sends a message over this loop's SMTP sessions: one lane of warm, pipelined sessions per
// (host, port, TLS, credentials), within max_sessions_per_host for the whole process.
// The mailers (ESMTP, MX) add retries and resolve the host first.
#pragma once
#include <boost/asio.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/reply.hpp"
#include "message/builder.hpp"
#include "relay/smtp/host_sessions.hpp"
#include "relay/smtp/session.hpp"

namespace haineko {
class TlsContexts;
}

namespace haineko::smtp {

class Lane;

class Transport {
public:
    Transport(boost::asio::any_io_executor executor, std::size_t loops, TlsContexts& tls);
    ~Transport();

    // One transaction to one recipient, whose own To: goes into the message. Never
    // throws: every failure is a reply (with host and port).
    boost::asio::awaitable<Reply> send(const Target& target, const std::string& mail, const std::string& rcpt,
                                       const BuiltMessage& message, const Settings& settings);
    // One transaction to several recipients, with one reply each; to_line is inserted
    // between the message's header parts ("" when the message has its own To:).
    boost::asio::awaitable<std::vector<Reply>> send(const Target& target, const std::string& mail,
                                                    const std::vector<std::string>& rcpts, const BuiltMessage& message,
                                                    const std::string& to_line, const Settings& settings);

    // At shutdown: idle sessions close now, busy ones when their queue is empty.
    void drain();
    std::size_t sessions_opened() const;
    // Sessions open now, and how many of them idle, by "host:port" (for /metrics).
    std::map<std::string, HostSessions> sessions_by_host() const;

private:
    boost::asio::any_io_executor executor_;
    std::size_t loops_;
    TlsContexts& tls_;
    std::map<std::string, std::shared_ptr<Lane>> lanes_;
};

}  // namespace haineko::smtp
