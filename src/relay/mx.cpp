// MX: delivers straight to the recipient domain's mail exchangers, in preference order,
// with the implicit MX of RFC 5321 5.1 when there is none. A null MX (RFC 7505) is
// 556 5.1.10, a domain that does not exist 550 5.1.2, a resolver failure 451 4.4.3.
// A temporary failure moves on to the next exchanger; a full round that fails
// temporarily is tried again `retry` times, `sleep` seconds apart.
#include "core/address.hpp"
#include "relay/dns/resolver.hpp"
#include "relay/mailer.hpp"
#include "relay/retry.hpp"
#include "relay/smtp/transport.hpp"

namespace haineko {
namespace {

Reply dns_reply(int code, const std::string& dsn, const std::string& text) {
    Reply r;
    r.code = code;
    r.dsn = dsn;
    r.command = "CONN";
    r.message = {text};
    return r;
}

class MxMailer final : public Mailer {
public:
    MxMailer(smtp::Transport& transport, dns::Resolver& resolver, RetrySleeps& sleeps)
        : transport_(transport), resolver_(resolver), sleeps_(sleeps) {}

    boost::asio::awaitable<Reply> deliver(const Delivery& d) override {
        co_return co_await with_retries(d.route, sleeps_, [&]() { return one_round(d); });
    }

private:
    boost::asio::awaitable<Reply> one_round(const Delivery& d) {
        const std::string domain = domain_of(d.rcpt);
        dns::MxAnswer mx = co_await resolver_.mx(domain);
        switch (mx.status) {
            case dns::MxAnswer::null_mx:
                co_return dns_reply(556, "5.1.10", "Domain " + domain + " does not accept mail (null MX)");
            case dns::MxAnswer::nxdomain:
                co_return dns_reply(550, "5.1.2", mx.error);
            case dns::MxAnswer::failure:
                co_return dns_reply(451, "4.4.3", mx.error);
            default:
                break;
        }
        Reply reply = dns_reply(451, "4.4.3", "No mail exchanger of " + domain + " could be reached");
        bool any_address = false;
        for (const auto& exchanger : mx.hosts) {
            dns::HostAnswer host = co_await resolver_.addresses(exchanger.host);
            if (host.status != dns::HostAnswer::found) {
                if (!any_address) reply = dns_reply(host.status == dns::HostAnswer::failure ? 451 : 550,
                                                    host.status == dns::HostAnswer::failure ? "4.4.3" : "5.1.2",
                                                    host.error);
                continue;
            }
            any_address = true;
            smtp::Target target = smtp::target_for(d.route, d.config, d.credential, exchanger.host);
            target.addresses = host.addresses;
            reply = co_await transport_.send(target, d.submission.mail, d.rcpt, d.message, d.config.smtpd);
            if (!is_temporary(reply)) break;
        }
        // Only nonexistent exchangers: as for a domain that does not exist, it is final.
        co_return reply;
    }

    smtp::Transport& transport_;
    dns::Resolver& resolver_;
    RetrySleeps& sleeps_;
};

}  // namespace

std::unique_ptr<Mailer> make_mx_mailer(smtp::Transport& transport, dns::Resolver& resolver, RetrySleeps& sleeps) {
    return std::make_unique<MxMailer>(transport, resolver, sleeps);
}

}  // namespace haineko
