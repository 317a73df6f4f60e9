// Does this address exist on the backend? For an inbound domain with `recipients: 'backend'`,
// the route's own server is asked at RCPT (MAIL FROM:<>, RCPT TO, QUIT over SMTP or LMTP), so
// an unknown recipient is refused while the client is still there instead of bounced later.
// Definite answers are kept for ten minutes; a server that cannot be asked is never cached.
#pragma once
#include <boost/asio.hpp>

#include <chrono>
#include <string>
#include <unordered_map>

#include "config/config.hpp"

namespace haineko {

class TlsContexts;
namespace dns {
class Resolver;
}

struct ProbeAnswer {
    enum Kind { exists, refused, unreachable } kind = unreachable;
    // refused with 550, 551, 553 or a 5.1.x code: the address does not exist there. Only those
    // and `exists` are kept; another 5xx (a full mailbox, a policy) is passed on each time.
    bool unknown_user = false;
    int code = 0;          // the server's reply to RCPT (refused)
    std::string dsn;       // its enhanced code, "" when it gave none
    std::string reason;    // for the log: the server's text, or why it could not be asked
};

class RecipientProbe {
public:
    static constexpr std::chrono::minutes kKeep{10};
    static constexpr std::size_t kMaxEntries = 100000;

    RecipientProbe(boost::asio::any_io_executor executor, dns::Resolver& resolver, TlsContexts& tls);
    boost::asio::awaitable<ProbeAnswer> ask(const Route& route, const Config& config, const std::string& rcpt);

private:
    boost::asio::awaitable<ProbeAnswer> ask_backend(const Route& route, const Config& config, const std::string& rcpt);
    boost::asio::awaitable<ProbeAnswer> ask_smtp(const Route& route, const Config& config, const std::string& rcpt);
    boost::asio::awaitable<ProbeAnswer> ask_lmtp(const Route& route, const Config& config, const std::string& rcpt);
    void remember(const std::string& key, const ProbeAnswer& answer);

    struct Kept {
        ProbeAnswer answer;
        std::chrono::steady_clock::time_point until;
    };
    boost::asio::any_io_executor executor_;
    dns::Resolver& resolver_;
    TlsContexts& tls_;
    std::unordered_map<std::string, Kept> kept_;
};

}  // namespace haineko
