// Opening an SMTP session: connect, implicit TLS, greeting, EHLO (HELO when EHLO is
// refused), STARTTLS, AUTH. Each stage expects one reply; anything else ends the session
// as an error with that stage as its command. A reply that is positive but out of place
// (a 250 greeting, a 250 to AUTH LOGIN) is never taken for success.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/reply.hpp"
#include "relay/smtp/connection.hpp"

namespace haineko::smtp {

struct Target {
    std::string host;
    std::vector<boost::asio::ip::address> addresses;  // resolved by the mailer
    int port = 25;
    bool implicit_tls = false;
    bool starttls = false;
    bool verify = true;
    bool auth_plaintext = false;
    std::optional<Credential> credential;  // a copy: a reload may free the config it came from
    Seconds timeout{59};
    std::string helo;  // our EHLO name
};

// A reply that ends the session: a refusal, or a reply the stage did not expect.
struct ReplyError {
    Reply reply;
};

// A reply Haineko makes itself (its code a number), for a stage of the dialogue.
Reply local_reply(int code, const std::string& dsn, const std::string& command, const std::string& text);

// The server's reply as ours: code, enhanced code and text.
Reply reply_from(const std::string& stage, const RawReply& raw);

// The error for a reply that is not the one a stage expects: the server's own refusal
// (4xx, 5xx), or, for anything else, 451 4.5.0 naming what was expected and what came.
Reply stage_error(const std::string& stage, const RawReply& raw, const std::string& expected, const std::string& peer);

// A failure below the dialogue (network, TLS, deadline) as a reply.
Reply reply_from(const SmtpIoError& e);

// An open, greeted, EHLO'd (and, as the target says, TLS'd and authenticated) session.
// Throws SmtpIoError or ReplyError.
boost::asio::awaitable<std::shared_ptr<Connection>> open_session(boost::asio::any_io_executor executor,
                                                                 std::shared_ptr<boost::asio::ssl::context> tls,
                                                                 const Target& target);

// The target of a route's SMTP mailer (ESMTP or MX), for host.
Target target_for(const Route& route, const Config& config, const Credential* credential, const std::string& host);

}  // namespace haineko::smtp
