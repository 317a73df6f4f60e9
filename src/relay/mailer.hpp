// The mailer interface: one message, one route, one recipient in; one SMTP-style reply out.
// Every mailer is asynchronous so that a relay waiting on the network never blocks the loop.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/reply.hpp"
#include "core/submission.hpp"
#include "message/builder.hpp"
#include "relay/smtp/host_sessions.hpp"

namespace haineko {

namespace smtp {
class Transport;
}
namespace dns {
class Resolver;
}
namespace https {
class Client;
}
class RecipientProbe;
class RetrySleeps;
class TlsContexts;

struct Delivery {
    const Submission& submission;
    const BuiltMessage& message;
    const Route& route;
    const Config& config;
    const std::string& rcpt;
    const Credential* credential;  // the route's authinfo entry, or null
};

// Several recipients of one message on one route (the queue's grouping).
struct GroupDelivery {
    const Submission& submission;
    const BuiltMessage& message;
    const Route& route;
    const Config& config;
    const std::vector<std::string>& rcpts;
    const Credential* credential;
};

class Mailer {
public:
    virtual ~Mailer() = default;
    // The reply's rcpt and mailer are filled in by the caller.
    virtual boost::asio::awaitable<Reply> deliver(const Delivery& delivery) = 0;
    // One reply per recipient, in order. The SMTP relays send one transaction with several
    // RCPT TO when the message has its own To: (own_to), and never retry (the queue does);
    // the others deliver the recipients one by one.
    virtual boost::asio::awaitable<std::vector<Reply>> deliver_all(const GroupDelivery& group);
    // True for mailers that answer a route's missing credentials themselves (the clouds,
    // whose answer names their endpoint); the others never see such a route.
    virtual bool answers_missing_credentials() const { return false; }
};

// The mailers of one event loop, by name. Mailers that keep connections (SMTP pools,
// HTTPS clients) live here, one set per loop, so nothing is shared across threads.
class MailerSet {
public:
    // loops: how many event loops share the per-host session limit. The resolver uses
    // config's dns_servers; tls holds the process's TLS client contexts (one of its own
    // when null).
    MailerSet(boost::asio::any_io_executor executor, std::size_t loops, const Config& config,
              std::shared_ptr<TlsContexts> tls = nullptr);
    ~MailerSet();
    // null for an unknown name
    Mailer* find(const std::string& name);
    // The loop's pooled HTTP(S) client (webhooks use it too).
    https::Client& web() { return *web_; }
    // The loop's resolver (the plugins' haineko.dns uses it too).
    dns::Resolver& resolver() { return *resolver_; }
    // The loop's RCPT probe of inbound backends, with its cache.
    RecipientProbe& probe() { return *probe_; }
    // After a reload: new dns_servers. (The TLS contexts are reloaded for all loops.)
    void reconfigure(const Config& config);
    // When the server stops: retry sleeps end now, idle relay connections close now,
    // busy ones when done.
    void drain();
    // The SMTP relay sessions this loop holds, by "host:port".
    std::map<std::string, smtp::HostSessions> smtp_sessions() const;

private:
    boost::asio::any_io_executor executor_;
    std::unique_ptr<RetrySleeps> sleeps_;
    std::shared_ptr<TlsContexts> tls_;
    std::unique_ptr<dns::Resolver> resolver_;
    std::unique_ptr<smtp::Transport> smtp_;
    std::unique_ptr<https::Client> web_;
    std::unique_ptr<RecipientProbe> probe_;
    std::map<std::string, std::unique_ptr<Mailer>> mailers_;
};

// Local mailers, one file each.
std::unique_ptr<Mailer> make_discard_mailer();
std::unique_ptr<Mailer> make_screen_mailer();
std::unique_ptr<Mailer> make_file_mailer();
// Relays, over the loop's pooled SMTP transport; host names resolve through c-ares.
std::unique_ptr<Mailer> make_esmtp_mailer(smtp::Transport& transport, dns::Resolver& resolver, RetrySleeps& sleeps);
std::unique_ptr<Mailer> make_mx_mailer(smtp::Transport& transport, dns::Resolver& resolver, RetrySleeps& sleeps);
// LMTP (RFC 2033) to a delivery agent over TCP or a Unix socket.
std::unique_ptr<Mailer> make_lmtp_mailer(boost::asio::any_io_executor executor, dns::Resolver& resolver);
std::unique_ptr<Mailer> make_haineko_mailer(https::Client& client, RetrySleeps& sleeps);

}  // namespace haineko
