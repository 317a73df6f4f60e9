#include "relay/dispatch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "relay/route_check.hpp"
#include "relay/route_choice.hpp"

namespace haineko {
namespace {

namespace asio = boost::asio;

Reply unusable_mailer(const Route& route) {
    Reply r;
    r.code = 500;
    r.dsn = "5.3.5";
    r.command = "DATA";
    std::string names;
    for (const auto& n : mailer_names()) names += (names.empty() ? "" : ", ") + n;
    r.message = {route.mailer.empty()
                     ? "No mailer is set for route '" + route.key + "'"
                     : "Unknown mailer '" + route.mailer + "' in route '" + route.key + "'; mailers are " + names +
                           " (names are case-sensitive)"};
    return r;
}

// A route that names credentials authinfo does not have must not send without them.
Reply missing_credentials(const Route& route) {
    Reply r;
    r.code = 530;
    r.dsn = "5.7.0";
    r.command = "AUTH";
    r.message = {"Route '" + route.key + "' names auth '" + route.auth + "', which authinfo does not have"};
    return r;
}

asio::awaitable<Reply> deliver_one(const Submission& s, const BuiltMessage& m, const Config& config,
                                   MailerSet& mailers, const std::string& rcpt) {
    const Route& route = choose_route(config, s.mail, rcpt);
    const Credential* credential = credential_for(config, route);
    Mailer* mailer = mailers.find(route.mailer);
    Reply reply;
    if (auto refused = route_refusal(route, mailer, credential)) {
        reply = std::move(*refused);
    } else {
        try {
            reply = co_await mailer->deliver(Delivery{s, m, route, config, rcpt, credential});
        } catch (const std::exception& e) {
            reply = mailer_failure(e);
        }
    }
    reply.rcpt = rcpt;
    reply.mailer = route.mailer.empty() ? std::optional<std::string>{} : route.mailer;
    co_return reply;
}

}  // namespace

const Credential* credential_for(const Config& config, const Route& route) {
    if (route.auth.empty()) return nullptr;
    auto it = config.authinfo.find(route.auth);
    return it == config.authinfo.end() ? nullptr : &it->second;
}

std::optional<Reply> route_refusal(const Route& route, Mailer* mailer, const Credential* credential) {
    if (!mailer) return unusable_mailer(route);
    if (!route.auth.empty() && !credential && !mailer->answers_missing_credentials()) return missing_credentials(route);
    return std::nullopt;
}

Reply mailer_failure(const std::exception& e) {
    Reply reply = named_reply("http", "server-error");
    reply.command = "DATA";
    reply.message = {std::string("Mailer failed: ") + e.what()};
    return reply;
}

namespace {

// The recipients of one submission, shared by its workers (all on one loop: no locks).
struct Fanout {
    const Submission& s;
    const BuiltMessage& m;
    const Config& config;
    MailerSet& mailers;
    std::vector<Reply>& replies;
    std::size_t next = 0;
};

// One worker: takes the next recipient until none is left.
asio::awaitable<void> fanout_worker(Fanout& f) {
    while (f.next < f.replies.size()) {
        const std::size_t i = f.next++;
        f.replies[i] = co_await deliver_one(f.s, f.m, f.config, f.mailers, f.s.rcpt[i]);
    }
}

}  // namespace

asio::awaitable<std::vector<Reply>> relay_submission(const Submission& s, const BuiltMessage& m, const Config& config,
                                                     MailerSet& mailers) {
    const size_t count = s.rcpt.size();
    std::vector<Reply> replies(count);
    if (count == 1) {
        replies[0] = co_await deliver_one(s, m, config, mailers, s.rcpt[0]);
        co_return replies;
    }
    auto executor = co_await asio::this_coro::executor;
    long long configured = config.smtpd.max_workers.valid ? config.smtpd.max_workers.value : 4;
    size_t workers = static_cast<size_t>(std::clamp<long long>(configured, 1, 64));
    workers = std::min(workers, count);
    // max_workers workers pull the recipients; the group completes when all are done.
    Fanout fanout{s, m, config, mailers, replies};
    using Op = decltype(asio::co_spawn(executor, fanout_worker(fanout), asio::deferred));
    std::vector<Op> ops;
    for (size_t w = 0; w < workers; ++w) ops.push_back(asio::co_spawn(executor, fanout_worker(fanout), asio::deferred));
    auto group = asio::experimental::make_parallel_group(std::move(ops));
    auto [order, failures] = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (const auto& failure : failures)
        if (failure) std::rethrow_exception(failure);  // deliver_one answers every mailer failure itself
    co_return replies;
}

}  // namespace haineko
