// ESMTP: relays to the route's host (a smarthost) over the pooled SMTP transport. The
// host name resolves through c-ares, like every name we look up. A 4xx or a failed
// connection is tried again `retry` times, `sleep` seconds apart, on a timer: the loop
// keeps serving others meanwhile.
#include "relay/dns/resolver.hpp"
#include "relay/mailer.hpp"
#include "relay/retry.hpp"
#include "relay/smtp/transport.hpp"

namespace haineko {
namespace {

// The route's host has no address: as a connection that cannot be made.
Reply unresolved(const Route& route, const dns::HostAnswer& host) {
    Reply r = named_reply("conn", "cannot-connect");
    r.cause = host.error;
    r.host = route.host;
    r.port = route.port;
    return r;
}

class EsmtpMailer final : public Mailer {
public:
    EsmtpMailer(smtp::Transport& transport, dns::Resolver& resolver, RetrySleeps& sleeps)
        : transport_(transport), resolver_(resolver), sleeps_(sleeps) {}

    boost::asio::awaitable<Reply> deliver(const Delivery& d) override {
        smtp::Target target = smtp::target_for(d.route, d.config, d.credential, d.route.host);
        co_return co_await with_retries(d.route, sleeps_, [&]() -> boost::asio::awaitable<Reply> {
            dns::HostAnswer host = co_await resolver_.addresses(d.route.host);
            if (host.status != dns::HostAnswer::found) co_return unresolved(d.route, host);
            target.addresses = host.addresses;
            co_return co_await transport_.send(target, d.submission.mail, d.rcpt, d.message, d.config.smtpd);
        });
    }

    boost::asio::awaitable<std::vector<Reply>> deliver_all(const GroupDelivery& g) override {
        if (!g.message.own_to && g.rcpts.size() > 1) co_return co_await Mailer::deliver_all(g);
        dns::HostAnswer host = co_await resolver_.addresses(g.route.host);
        if (host.status != dns::HostAnswer::found) co_return std::vector<Reply>(g.rcpts.size(), unresolved(g.route, host));
        smtp::Target target = smtp::target_for(g.route, g.config, g.credential, g.route.host);
        target.addresses = host.addresses;
        const std::string to_line = to_line_for(g.message, g.rcpts);
        co_return co_await transport_.send(target, g.submission.mail, g.rcpts, g.message, to_line, g.config.smtpd);
    }

private:
    smtp::Transport& transport_;
    dns::Resolver& resolver_;
    RetrySleeps& sleeps_;
};

}  // namespace

std::unique_ptr<Mailer> make_esmtp_mailer(smtp::Transport& transport, dns::Resolver& resolver, RetrySleeps& sleeps) {
    return std::make_unique<EsmtpMailer>(transport, resolver, sleeps);
}

}  // namespace haineko
