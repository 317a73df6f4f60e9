#include "queue/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "core/address.hpp"
#include "core/queueid.hpp"
#include "message/builder.hpp"
#include "message/dsn.hpp"
#include "queue/disposition.hpp"
#include "relay/dispatch.hpp"
#include "plugin/delivery.hpp"
#include "plugin/host.hpp"
#include "relay/route_choice.hpp"

namespace haineko::queue {

namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

constexpr std::size_t kMaxClaim = 256;
constexpr std::size_t kMaxRcptsPerTransaction = 100;
constexpr auto kIdleLook = std::chrono::seconds(1);

std::chrono::system_clock::time_point time_of(Millis t) {
    return std::chrono::system_clock::time_point(milliseconds(t));
}

RetryPolicy policy_for(const Route& route, const QueueSettings& q) {
    return RetryPolicy{route.min_backoff.value_or(q.min_backoff) * 1000, route.max_backoff.value_or(q.max_backoff) * 1000,
                       route.max_lifetime.value_or(q.max_lifetime) * 1000};
}

// What the mailers read of a submission, for a message kept in the queue.
Submission submission_of(const NewMessage& m) {
    Submission s;
    s.queueid = m.id;
    s.started = time_of(m.created_at);
    s.mail = m.mail;
    s.header.from = m.from;
    s.header.subject = m.subject;
    s.client.address = "127.0.0.1";
    return s;
}

// What /metrics counts of an attempt: each recipient's mailer and status.
std::vector<std::pair<std::string, RcptStatus>> tally_of(const std::vector<Outcome>& outcomes) {
    std::vector<std::pair<std::string, RcptStatus>> tally;
    for (const auto& o : outcomes) tally.emplace_back(o.route ? o.route->mailer : std::string("-"), o.status);
    return tally;
}

std::string without_angles(const std::string& id) {
    if (id.size() >= 2 && id.front() == '<' && id.back() == '>') return id.substr(1, id.size() - 2);
    return id;
}

// Recipients that go in one transaction: one route, and for MX one domain.
struct RouteGroup {
    const Route* route = nullptr;
    std::vector<std::size_t> members;  // indexes into the due list
};

// chosen: each recipient's route where a plugin chose it (null: the tables decide).
std::vector<RouteGroup> group_by_route(const Config& config, const std::string& mail,
                                       const std::vector<DueRecipient>& due, const std::vector<const Route*>& chosen) {
    std::vector<RouteGroup> groups;
    std::map<std::pair<const Route*, std::string>, std::size_t> index;
    for (std::size_t i = 0; i < due.size(); ++i) {
        const Route& route = i < chosen.size() && chosen[i] ? *chosen[i] : choose_route(config, mail, due[i].rcpt);
        const std::string domain = route.mailer == "MX" ? to_lower(domain_of(due[i].rcpt)) : std::string();
        auto [it, added] = index.try_emplace({&route, domain}, groups.size());
        if (added) groups.push_back({&route, {}});
        RouteGroup& g = groups[it->second];
        if (g.members.size() == kMaxRcptsPerTransaction) {  // a full transaction: start the next
            it->second = groups.size();
            groups.push_back({&route, {}});
        }
        groups[it->second].members.push_back(i);
    }
    return groups;
}

FailedRecipient failed_recipient(const Outcome& o) {
    FailedRecipient f;
    f.rcpt = o.rcpt;
    if (!o.reply) return f;
    const ReplyFacts& r = *o.reply;
    f.status = !r.dsn.empty() ? r.dsn : (!r.code.empty() && r.code[0] == '4' ? "4.4.7" : "5.0.0");
    f.diagnostic = r.code + (r.dsn.empty() ? "" : " " + r.dsn);
    for (const auto& line : r.message) f.diagnostic += " " + line;
    f.remote_mta = r.host;
    return f;
}

RcptDsn dsn_of(const NewMessage& m, const std::string& rcpt) {
    for (std::size_t i = 0; i < m.rcpts.size() && i < m.rcpt_dsn.size(); ++i)
        if (m.rcpts[i] == rcpt) return m.rcpt_dsn[i];
    return {};
}

}  // namespace

Scheduler::Scheduler(asio::any_io_executor executor, Store& store, ConfigHolder& config, MailerSet& mailers,
                     std::size_t capacity, DeliveryMetrics& metrics, PluginsNow plugins)
    : executor_(executor), store_(store), config_(config), mailers_(mailers), metrics_(metrics),
      plugins_(std::move(plugins)),
      capacity_(std::max<std::size_t>(capacity, 1)),
      timer_(executor), random_(std::random_device{}()) {}

void Scheduler::start() { asio::co_spawn(executor_, run(), asio::detached); }

void Scheduler::wake() {
    asio::post(executor_, [this] {
        woken_ = true;
        timer_.cancel();
    });
}

void Scheduler::stop() {
    stopping_ = true;
    timer_.cancel();
}

std::size_t Scheduler::room() const {
    const std::size_t deliveries = capacity_ - std::min(delivering_, capacity_);
    const std::size_t settles = 2 * capacity_ - std::min(delivering_ + settling_, 2 * capacity_);
    return std::min({deliveries, settles, kMaxClaim});
}

asio::awaitable<void> Scheduler::run() {
    while (!stopping_) {
        woken_ = false;
        const std::size_t room = this->room();
        std::vector<DueRecipient> due;
        if (room > 0) {
            try {
                due = co_await store_.claim_due(now_millis(), static_cast<int>(room));
                store_trouble_logged_ = false;
            } catch (const std::exception& e) {
                if (!store_trouble_logged_) spdlog::error("queue: cannot claim due deliveries: {}", e.what());
                store_trouble_logged_ = true;
            }
        }
        if (stopping_) {
            // Claimed but not started: the next start finds them due again.
            break;
        }
        // One attempt per message, its due recipients together.
        std::map<std::int64_t, std::vector<DueRecipient>> by_message;
        for (auto& d : due) by_message[d.message].push_back(std::move(d));
        for (auto& [key, recipients] : by_message) {
            delivering_ += recipients.size();
            asio::co_spawn(executor_, attempt(std::move(recipients)), asio::detached);
        }
        if (room > 0 && due.size() == room) continue;  // more may be due now
        if (woken_) continue;
        timer_.expires_after(kIdleLook);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> Scheduler::attempt(std::vector<DueRecipient> due) {
    const std::size_t count = due.size();
    bool delivered = false;  // the relay has answered: the slot went back, the settle is counted
    // Frees what this attempt holds; a scheduler that stopped claiming for want of room claims again.
    auto release = [&](std::size_t& held) {
        const bool was_full = room() == 0;
        held -= count;
        if (was_full) wake();
    };
    try {
        const auto config = config_.get();
        const auto message = co_await store_.load(due.front().message);
        if (message) {
            std::vector<Outcome> outcomes = co_await deliver(*message, due, *config);
            settling_ += count;
            release(delivering_);
            delivered = true;
            const Millis now = now_millis();
            std::vector<Bounce> bounces = bounces_for(*message, due.front().message, outcomes, *config, now);
            const bool reports_queued = !bounces.empty();
            auto tally = tally_of(outcomes);
            const std::vector<Outcome> kept = outcomes;  // for the delivery hooks, once committed
            co_await settle_until_kept(std::move(outcomes), std::move(bounces), now, due.front().id);
            // Counted once kept: a delivery the store never recorded is not reported.
            for (const auto& [mailer, status] : tally) {
                metrics_.count_delivery(mailer, std::string(name_of(status)));
                if (status == RcptStatus::delivered)
                    metrics_.delivered_after(static_cast<double>(now - due.front().created_at) / 1000.0);
            }
            if (reports_queued) wake();
            if (auto host = plugins_ ? plugins_() : nullptr) co_await tell_plugins(*host, *message, due, kept);
        }
    } catch (const std::exception& e) {
        // The recipients stay in flight in the store until the next start makes them due.
        spdlog::error("queue: the attempt for {} could not be settled: {}", due.front().id, e.what());
    }
    release(delivered ? settling_ : delivering_);
}

// The outcomes are the only record of what the relays answered: a store that cannot
// write them now (a full disk) is asked again every few seconds until it can, so that
// a delivery that happened is not made again; only a stop gives up (the next start
// finds those recipients due, and may deliver them twice, never lose them).
asio::awaitable<void> Scheduler::settle_until_kept(std::vector<Outcome> outcomes, std::vector<Bounce> bounces,
                                                   Millis now, const std::string& id) {
    auto wait = std::chrono::milliseconds(500);
    for (bool logged = false;; wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::seconds(5))) {
        try {
            co_await store_.settle(outcomes, bounces, now);
            if (logged) spdlog::info("queue: the attempt for {} is settled", id);
            co_return;
        } catch (const StoreUnavailable& e) {
            if (stopping_) throw;
            if (!logged) spdlog::error("queue: the attempt for {} cannot be settled yet ({}); trying again", id, e.what());
            logged = true;
        }
        asio::steady_timer pause(executor_, wait);
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<std::vector<Outcome>> Scheduler::deliver(const NewMessage& message, const std::vector<DueRecipient>& due,
                                                         const Config& config) {
    const BuiltMessage built = built_from_bytes(without_angles(message.message_id), message.body);
    const Submission submission = submission_of(message);
    std::vector<Outcome> outcomes;
    std::deque<Route> own;  // routes the plugins made; the groups point into it
    const auto host = plugins_ ? plugins_() : nullptr;
    const std::vector<const Route*> chosen = co_await plugin_routes(host.get(), message, due, config, own);
    for (const auto& group : group_by_route(config, message.mail, due, chosen)) {
        const Route& route = *group.route;
        std::vector<std::string> rcpts;
        for (auto i : group.members) rcpts.push_back(due[i].rcpt);
        const Credential* credential = credential_for(config, route);
        Mailer* mailer = mailers_.find(route.mailer);
        std::vector<Reply> replies;
        if (auto refused = route_refusal(route, mailer, credential)) {
            replies.assign(rcpts.size(), *refused);
        } else {
            try {
                const GroupDelivery delivery{submission, built, route, config, rcpts, credential};
                replies = co_await mailer->deliver_all(delivery);
            } catch (const std::exception& e) {
                replies.assign(rcpts.size(), mailer_failure(e));
            }
        }
        const RouteFacts facts{route.mailer, route.mailer == "MX" ? domain_of(rcpts.front()) : route.host, route.port};
        const RetryPolicy policy = policy_for(route, config.queue);
        const Millis now = now_millis();
        for (std::size_t k = 0; k < group.members.size(); ++k) {
            const Reply& reply = k < replies.size() ? replies[k] : named_reply("http", "server-error");
            outcomes.push_back(dispose(due[group.members[k]], reply, facts, policy, now, random_));
        }
    }
    co_return outcomes;
}

asio::awaitable<std::vector<const Route*>> Scheduler::plugin_routes(plugin::Host* host, const NewMessage& message,
                                                                     const std::vector<DueRecipient>& due,
                                                                     const Config& config, std::deque<Route>& own) {
    std::vector<const Route*> chosen(due.size(), nullptr);
    if (!host || !host->any(plugin::Hook::get_route)) co_return chosen;
    for (std::size_t i = 0; i < due.size(); ++i) {
        const Route& tables = choose_route(config, message.mail, due[i].rcpt);
        plugin::MsgFacts facts{message.id, message.mail, &message.body, due[i].attempts + 1, tables.mailer,
                               tables.mailer == "MX" ? domain_of(due[i].rcpt) : tables.host, tables.port};
        const plugin::RouteChoice c = co_await plugin::choose_route_by_plugins(*host, facts, due[i].rcpt);
        if (c.kind == plugin::RouteChoice::Kind::named) {
            auto it = config.mailertable.find(c.name);
            if (it != config.mailertable.end()) chosen[i] = &it->second;
            else spdlog::error("plugin={} hook=get_route queueid={} named '{}', which mailertable does not have: the "
                               "route stays", c.plugin, message.id, loggable(c.name));
        } else if (c.kind == plugin::RouteChoice::Kind::table) {
            try {
                own.push_back(route_from_json(c.table, "plugin " + c.plugin + " (get_route)", config.options));
                chosen[i] = &own.back();
            } catch (const std::exception& e) {
                spdlog::error("plugin={} hook=get_route queueid={}: {}: the route stays", c.plugin, message.id, e.what());
            }
        }
    }
    co_return chosen;
}

asio::awaitable<void> Scheduler::tell_plugins(plugin::Host& host, const NewMessage& message,
                                              const std::vector<DueRecipient>& due, const std::vector<Outcome>& outcomes) {
    for (const auto& o : outcomes) {
        const plugin::Hook hook = o.status == RcptStatus::delivered ? plugin::Hook::delivered
                                  : o.status == RcptStatus::bounced ? plugin::Hook::bounce
                                                                    : plugin::Hook::deferred;
        if (!host.any(hook)) continue;
        int attempts = 1;
        for (const auto& d : due)
            if (d.position == o.position) attempts = d.attempts + 1;
        plugin::MsgFacts facts{message.id, message.mail, &message.body, attempts,
                               o.route ? o.route->mailer : std::string(), o.route ? o.route->host : std::string(),
                               o.route ? o.route->port : 0};
        plugin::DeliveryReply reply;
        if (o.reply) {
            reply.code = std::atoi(o.reply->code.c_str());
            reply.dsn = o.reply->dsn;
            for (const auto& line : o.reply->message) reply.text += (reply.text.empty() ? "" : " ") + line;
            reply.host = o.reply->host;
        }
        co_await plugin::tell_outcome(host, hook, facts, o.rcpt, reply);
    }
}

std::vector<Bounce> Scheduler::bounces_for(const NewMessage& message, std::int64_t key,
                                           const std::vector<Outcome>& outcomes, const Config& config, Millis now) {
    std::vector<Bounce> bounces;
    // A bounce is never bounced, and a null sender gets none.
    if (!config.queue.bounce || message.is_bounce || message.mail.empty()) return bounces;
    DsnReport report;
    for (const auto& o : outcomes) {
        if (o.status != RcptStatus::bounced) continue;
        const RcptDsn dsn = dsn_of(message, o.rcpt);
        if (!dsn.wants_failure_report()) continue;  // NOTIFY=NEVER, or not FAILURE (RFC 3461 4.1)
        FailedRecipient f = failed_recipient(o);
        f.orcpt = dsn.orcpt.value_or("");
        report.recipients.push_back(std::move(f));
    }
    if (report.recipients.empty()) return bounces;
    report.envid = message.dsn_envid.value_or("");
    if (message.dsn_ret == "FULL") report.original_message = message.body;
    report.hostname = config.smtpd.hostname;
    report.to = message.mail;
    report.queue_id = message.id;
    report.arrival = time_of(message.created_at);
    report.now = time_of(now);
    report.original_header = header_section(message.body);
    const BuiltDsn dsn = build_dsn(report);
    Bounce b;
    b.original = key;
    NewMessage& r = b.report;
    r.id = make_queueid(time_of(now));
    r.user = message.user;
    r.message_id = "<" + dsn.message_id + ">";
    r.from = "MAILER-DAEMON@" + config.smtpd.hostname;
    r.mail = "";
    r.subject = "Undelivered Mail Returned to Sender";
    r.rcpts = {message.mail};
    const Route& route = choose_route(config, "", message.mail);
    r.routes = {RouteFacts{route.mailer, route.host, route.port}};
    r.body = dsn.message;
    r.created_at = now;
    r.is_bounce = true;
    bounces.push_back(std::move(b));
    return bounces;
}

}  // namespace haineko::queue
