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
        std::vector<std::string> rcpts;  // named locals: GCC 12 and co_await
        rcpts.push_back(d.rcpt);
        const GroupDelivery g{d.submission, d.message, d.route, d.config, rcpts, d.credential};
        co_return co_await with_retries(d.route, sleeps_, [&]() { return only_reply(g); });
    }

    // Recipients of one domain (the queue groups them so).
    boost::asio::awaitable<std::vector<Reply>> deliver_all(const GroupDelivery& g) override {
        if (!g.message.own_to && g.rcpts.size() > 1) co_return co_await Mailer::deliver_all(g);
        co_return co_await one_round(g);
    }

private:
    boost::asio::awaitable<Reply> only_reply(const GroupDelivery& g) {
        auto replies = co_await one_round(g);
        co_return std::move(replies.front());
    }

    // Every exchanger in turn, each taking the recipients still failing temporarily.
    boost::asio::awaitable<std::vector<Reply>> one_round(const GroupDelivery& g) {
        const std::string domain = domain_of(g.rcpts.front());
        const size_t n = g.rcpts.size();
        dns::MxAnswer mx = co_await resolver_.mx(domain);
        switch (mx.status) {
            case dns::MxAnswer::null_mx:
                co_return std::vector<Reply>(n, dns_reply(556, "5.1.10", "Domain " + domain + " does not accept mail (null MX)"));
            case dns::MxAnswer::nxdomain:
                co_return std::vector<Reply>(n, dns_reply(550, "5.1.2", mx.error));
            case dns::MxAnswer::failure:
                co_return std::vector<Reply>(n, dns_reply(451, "4.4.3", mx.error));
            default:
                break;
        }
        std::vector<Reply> replies(n, dns_reply(451, "4.4.3", "No mail exchanger of " + domain + " could be reached"));
        std::vector<size_t> open(n);  // the recipients not settled yet, by index
        for (size_t i = 0; i < n; ++i) open[i] = i;
        bool any_address = false;
        for (const auto& exchanger : mx.hosts) {
            if (open.empty()) break;
            dns::HostAnswer host = co_await resolver_.addresses(exchanger.host);
            if (host.status != dns::HostAnswer::found) {
                if (!any_address) {
                    const bool failure = host.status == dns::HostAnswer::failure;
                    const Reply r = dns_reply(failure ? 451 : 550, failure ? "4.4.3" : "5.1.2", host.error);
                    for (size_t i : open) replies[i] = r;
                }
                continue;
            }
            any_address = true;
            smtp::Target target = smtp::target_for(g.route, g.config, g.credential, exchanger.host);
            target.addresses = host.addresses;
            std::vector<std::string> rcpts;
            for (size_t i : open) rcpts.push_back(g.rcpts[i]);
            const std::string to_line = to_line_for(g.message, rcpts);
            auto answers = co_await transport_.send(target, g.submission.mail, rcpts, g.message, to_line, g.config.smtpd);
            std::vector<size_t> still_open;
            for (size_t k = 0; k < open.size(); ++k) {
                replies[open[k]] = answers[k];
                if (is_temporary(answers[k])) still_open.push_back(open[k]);
            }
            open = std::move(still_open);
        }
        // Only nonexistent exchangers: as for a domain that does not exist, it is final.
        co_return replies;
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
