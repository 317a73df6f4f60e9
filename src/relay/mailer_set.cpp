#include "core/tls.hpp"
#include "relay/cloud/cloud.hpp"
#include "relay/dns/resolver.hpp"
#include "relay/https/client.hpp"
#include "relay/mailer.hpp"
#include "relay/recipient_probe.hpp"
#include "relay/retry.hpp"
#include "relay/smtp/transport.hpp"

namespace haineko {

boost::asio::awaitable<std::vector<Reply>> Mailer::deliver_all(const GroupDelivery& g) {
    std::vector<Reply> replies;
    replies.reserve(g.rcpts.size());
    for (const auto& rcpt : g.rcpts)
        replies.push_back(co_await deliver(Delivery{g.submission, g.message, g.route, g.config, rcpt, g.credential}));
    co_return replies;
}

MailerSet::MailerSet(boost::asio::any_io_executor executor, std::size_t loops, const Config& config,
                     std::shared_ptr<TlsContexts> tls)
    : executor_(executor),
      sleeps_(std::make_unique<RetrySleeps>()),
      tls_(tls ? std::move(tls) : std::make_shared<TlsContexts>()),
      resolver_(std::make_unique<dns::Resolver>(executor, config.smtpd.dns_servers)),
      smtp_(std::make_unique<smtp::Transport>(executor, loops, *tls_)),
      web_(std::make_unique<https::Client>(executor, *resolver_, *tls_)),
      probe_(std::make_unique<RecipientProbe>(executor, *resolver_, *tls_)) {
    mailers_["Discard"] = make_discard_mailer();
    mailers_["Screen"] = make_screen_mailer();
    mailers_["File"] = make_file_mailer();
    mailers_["ESMTP"] = make_esmtp_mailer(*smtp_, *resolver_, *sleeps_);
    mailers_["MX"] = make_mx_mailer(*smtp_, *resolver_, *sleeps_);
    mailers_["LMTP"] = make_lmtp_mailer(executor, *resolver_);
    mailers_["Haineko"] = make_haineko_mailer(*web_, *sleeps_);
    mailers_["SendGrid"] = cloud::make_cloud_mailer(*web_, *sleeps_, cloud::make_sendgrid());
    mailers_["AmazonSES"] = cloud::make_cloud_mailer(*web_, *sleeps_, cloud::make_amazon_ses());
    mailers_["Mandrill"] = cloud::make_cloud_mailer(*web_, *sleeps_, cloud::make_mandrill());
    mailers_["Postmark"] = cloud::make_cloud_mailer(*web_, *sleeps_, cloud::make_postmark());
    mailers_["Mailgun"] = cloud::make_cloud_mailer(*web_, *sleeps_, cloud::make_mailgun());
}

MailerSet::~MailerSet() = default;

void MailerSet::reconfigure(const Config& config) { resolver_->set_servers(config.smtpd.dns_servers); }

void MailerSet::drain() {
    sleeps_->stop();
    smtp_->drain();
    web_->close_idle();
}

std::map<std::string, smtp::HostSessions> MailerSet::smtp_sessions() const { return smtp_->sessions_by_host(); }

Mailer* MailerSet::find(const std::string& name) {
    auto it = mailers_.find(name);
    return it == mailers_.end() ? nullptr : it->second.get();
}

}  // namespace haineko
