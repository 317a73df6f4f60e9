// ESMTP: relays to the route's host (a smarthost) over the pooled SMTP transport.
// A 4xx or a failed connection is tried again `retry` times, `sleep` seconds apart, on a
// timer: the loop keeps serving others meanwhile.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "relay/mailer.hpp"
#include "relay/smtp/transport.hpp"

namespace haineko {
namespace {

class EsmtpMailer final : public Mailer {
public:
    explicit EsmtpMailer(smtp::Transport& transport) : transport_(transport) {}

    boost::asio::awaitable<Reply> deliver(const Delivery& d) override {
        smtp::Target target;
        target.host = d.route.host;
        target.port = d.route.port;
        target.implicit_tls = d.route.ssl;
        target.starttls = d.route.starttls;
        target.verify = d.route.tls_verify;
        target.auth_plaintext = d.route.auth_plaintext;
        target.credential = d.credential;
        target.timeout = smtp::Seconds(d.route.timeout);
        target.helo = d.config.smtpd.hostname;
        Reply reply;
        for (int attempt = 0;; ++attempt) {
            reply = co_await transport_.send(target, d.submission.mail, d.rcpt, d.message, d.config.smtpd);
            if (!smtp::is_temporary(reply) || attempt >= d.route.retry) break;
            boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor, std::chrono::seconds(d.route.sleep));
            co_await pause.async_wait(boost::asio::use_awaitable);
        }
        co_return reply;
    }

private:
    smtp::Transport& transport_;
};

}  // namespace

std::unique_ptr<Mailer> make_esmtp_mailer(smtp::Transport& transport) { return std::make_unique<EsmtpMailer>(transport); }

}  // namespace haineko
