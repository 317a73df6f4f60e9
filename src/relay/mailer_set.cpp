#include "relay/mailer.hpp"
#include "relay/cloud/cloud.hpp"
#include "relay/dns/resolver.hpp"
#include "relay/https/client.hpp"
#include "relay/smtp/transport.hpp"

namespace haineko {

MailerSet::MailerSet(boost::asio::any_io_executor executor, std::size_t loops,
                     const std::vector<std::string>& dns_servers)
    : executor_(executor),
      smtp_(std::make_unique<smtp::Transport>(executor, loops)),
      resolver_(std::make_unique<dns::Resolver>(executor, dns_servers)),
      web_(std::make_unique<https::Client>(executor)) {
    mailers_["Discard"] = make_discard_mailer();
    mailers_["Screen"] = make_screen_mailer();
    mailers_["File"] = make_file_mailer();
    mailers_["ESMTP"] = make_esmtp_mailer(*smtp_);
    mailers_["MX"] = make_mx_mailer(*smtp_, *resolver_);
    mailers_["Haineko"] = make_haineko_mailer(*web_);
    mailers_["SendGrid"] = cloud::make_cloud_mailer(*web_, cloud::make_sendgrid());
    mailers_["AmazonSES"] = cloud::make_cloud_mailer(*web_, cloud::make_amazon_ses());
    mailers_["Mandrill"] = cloud::make_cloud_mailer(*web_, cloud::make_mandrill());
    mailers_["Postmark"] = cloud::make_cloud_mailer(*web_, cloud::make_postmark());
    mailers_["Mailgun"] = cloud::make_cloud_mailer(*web_, cloud::make_mailgun());
}

MailerSet::~MailerSet() = default;

void MailerSet::drain() {
    smtp_->pool().drain();
    web_->close_idle();
}

Mailer* MailerSet::find(const std::string& name) {
    auto it = mailers_.find(name);
    return it == mailers_.end() ? nullptr : it->second.get();
}

}  // namespace haineko
