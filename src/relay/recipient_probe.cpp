#include "relay/recipient_probe.hpp"

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "core/text.hpp"
#include "core/tls.hpp"
#include "relay/dns/resolver.hpp"
#include "relay/lmtp/client.hpp"
#include "relay/smtp/session.hpp"

namespace haineko {
namespace {

namespace asio = boost::asio;
using smtp::RawReply;

// The client waits at RCPT meanwhile: a slow backend must not hold it for a whole route timeout.
constexpr int kMaxProbeSeconds = 20;

ProbeAnswer unreachable(const std::string& why) {
    ProbeAnswer a;
    a.reason = why;
    return a;
}

// The server's answer to RCPT TO (its MAIL already taken).
ProbeAnswer judge(const RawReply& rcpt) {
    ProbeAnswer a;
    const Reply r = smtp::reply_from("RCPT", rcpt);
    for (const auto& line : r.message) a.reason += (a.reason.empty() ? "" : " ") + line;
    if (rcpt.is_2xx()) a.kind = ProbeAnswer::exists;
    else if (rcpt.code >= 500 && rcpt.code < 600) a.kind = ProbeAnswer::refused;
    a.code = rcpt.code;
    a.dsn = r.dsn.value_or("");
    a.unknown_user = a.kind == ProbeAnswer::refused &&
                     (a.code == 550 || a.code == 551 || a.code == 553 || a.dsn.starts_with("5.1."));
    return a;
}

ProbeAnswer sender_refused(const RawReply& mail) {
    return unreachable("the backend refused MAIL FROM:<> with " + std::to_string(mail.code));
}

// The local part is the backend's to interpret (it may be case-sensitive); the domain is not.
std::string key_of(const Route& route, const std::string& rcpt) {
    const auto at = rcpt.rfind('@');
    const std::string address =
        at == std::string::npos ? rcpt : rcpt.substr(0, at) + to_lower(std::string_view(rcpt).substr(at));
    return route.mailer + "|" + route.host + "|" + std::to_string(route.port) + "|" + route.socket + "|" + address;
}

}  // namespace

RecipientProbe::RecipientProbe(asio::any_io_executor executor, dns::Resolver& resolver, TlsContexts& tls)
    : executor_(executor), resolver_(resolver), tls_(tls) {}

asio::awaitable<ProbeAnswer> RecipientProbe::ask(const Route& route, const Config& config, const std::string& rcpt) {
    const std::string key = key_of(route, rcpt);
    if (auto it = kept_.find(key); it != kept_.end()) {
        if (it->second.until > std::chrono::steady_clock::now()) co_return it->second.answer;
        kept_.erase(it);
    }
    using namespace asio::experimental::awaitable_operators;
    // One deadline over the whole exchange: each step has its own, but a backend that answers
    // every step slowly must not hold the client for their sum.
    asio::steady_timer deadline(executor_, std::chrono::seconds(kMaxProbeSeconds));
    auto first =
        co_await (ask_backend(route, config, rcpt) || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (first.index() == 1)
        co_return unreachable("the backend did not answer within " + std::to_string(kMaxProbeSeconds) + " s");
    ProbeAnswer answer = std::move(std::get<0>(first));
    if (answer.kind == ProbeAnswer::exists || answer.unknown_user) remember(key, answer);
    co_return answer;
}

asio::awaitable<ProbeAnswer> RecipientProbe::ask_backend(const Route& route, const Config& config,
                                                         const std::string& rcpt) {
    try {
        if (route.mailer == "LMTP") co_return co_await ask_lmtp(route, config, rcpt);
        co_return co_await ask_smtp(route, config, rcpt);
    } catch (const smtp::SmtpIoError& e) {
        co_return unreachable(e.what());
    } catch (const smtp::ReplyError& e) {
        co_return unreachable(e.reply.message.empty() ? "the backend refused the session" : e.reply.message.front());
    }
}

void RecipientProbe::remember(const std::string& key, const ProbeAnswer& answer) {
    const auto now = std::chrono::steady_clock::now();
    if (kept_.size() >= kMaxEntries) std::erase_if(kept_, [&](const auto& kv) { return kv.second.until <= now; });
    if (kept_.size() >= kMaxEntries) kept_.clear();  // all fresh: forget them rather than grow
    kept_[key] = Kept{answer, now + kKeep};
}

namespace {

// MAIL FROM:<>, RCPT TO, QUIT on an open session (SMTP or LMTP alike).
template <class Conn>
asio::awaitable<ProbeAnswer> probe_on(Conn& conn, const std::string& rcpt, smtp::Seconds timeout) {
    // Named lines and stages: GCC 12 mishandles temporaries in a co_await's arguments.
    const std::string mail_line = "MAIL FROM:<>", mail_stage = "MAIL";
    const std::string rcpt_line = "RCPT TO:<" + rcpt + ">", rcpt_stage = "RCPT";
    const std::string quit = "QUIT";
    RawReply mail = co_await conn.command(mail_line, mail_stage, timeout);
    if (!mail.is_2xx()) co_return sender_refused(mail);
    RawReply answer = co_await conn.command(rcpt_line, rcpt_stage, timeout);
    try {
        // The answer is in: a backend slow to say goodbye gets two seconds, not the client's wait.
        co_await conn.command(quit, quit, std::min(timeout, smtp::Seconds(2)));
    } catch (const smtp::SmtpIoError&) {
        // the answer is in; a server that hangs up without 221 changes nothing
    }
    conn.close();
    co_return judge(answer);
}

}  // namespace

asio::awaitable<ProbeAnswer> RecipientProbe::ask_smtp(const Route& route, const Config& config, const std::string& rcpt) {
    const Credential* credential = nullptr;
    if (auto it = config.authinfo.find(route.auth); !route.auth.empty() && it != config.authinfo.end())
        credential = &it->second;
    smtp::Target target = smtp::target_for(route, config, credential, route.host);
    target.timeout = smtp::Seconds(std::min(route.timeout, kMaxProbeSeconds));
    dns::HostAnswer host = co_await resolver_.addresses(route.host);
    if (host.status != dns::HostAnswer::found) co_return unreachable("cannot resolve " + route.host + ": " + host.error);
    target.addresses = host.addresses;
    auto tls = tls_.client(config.smtpd.tls_ca_file);
    auto conn = co_await smtp::open_session(executor_, tls, target);
    co_return co_await probe_on(*conn, rcpt, target.timeout);
}

asio::awaitable<ProbeAnswer> RecipientProbe::ask_lmtp(const Route& route, const Config& config, const std::string& rcpt) {
    lmtp::Target target;
    target.host = route.host;
    target.port = route.port;
    target.socket = route.socket;
    target.timeout = smtp::Seconds(std::min(route.timeout, kMaxProbeSeconds));
    target.lhlo = config.smtpd.helo_name;
    if (target.socket.empty()) {
        dns::HostAnswer host = co_await resolver_.addresses(route.host);
        if (host.status != dns::HostAnswer::found)
            co_return unreachable("cannot resolve " + route.host + ": " + host.error);
        target.addresses = host.addresses;
    }
    lmtp::Connection conn(executor_);
    co_await lmtp::open(conn, target);
    co_return co_await probe_on(conn, rcpt, target.timeout);
}

}  // namespace haineko
