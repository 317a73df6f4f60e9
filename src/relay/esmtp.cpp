// ESMTP: relays to the route's host (a smarthost) over the pooled SMTP transport.
// A 4xx or a failed connection is tried again `retry` times, `sleep` seconds apart, on a
// timer: the loop keeps serving others meanwhile.
#include "relay/mailer.hpp"
#include "relay/retry.hpp"
#include "relay/smtp/transport.hpp"

namespace haineko {
namespace {

class EsmtpMailer final : public Mailer {
public:
    explicit EsmtpMailer(smtp::Transport& transport) : transport_(transport) {}

    boost::asio::awaitable<Reply> deliver(const Delivery& d) override {
        const smtp::Target target = smtp::target_for(d.route, d.config, d.credential, d.route.host);
        co_return co_await with_retries(d.route, [&]() {
            return transport_.send(target, d.submission.mail, d.rcpt, d.message, d.config.smtpd);
        });
    }

private:
    smtp::Transport& transport_;
};

}  // namespace

std::unique_ptr<Mailer> make_esmtp_mailer(smtp::Transport& transport) { return std::make_unique<EsmtpMailer>(transport); }

}  // namespace haineko
