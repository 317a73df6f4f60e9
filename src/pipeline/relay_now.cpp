#include "pipeline/relay_now.hpp"

#include <spdlog/spdlog.h>

#include "message/builder.hpp"
#include "pipeline/filtering.hpp"
#include "pipeline/plugin_stages.hpp"
#include "pipeline/submit_plugins.hpp"
#include "pipeline/acceptance_routes.hpp"
#include "relay/dispatch.hpp"

namespace haineko {

namespace {

namespace asio = boost::asio;

// A filter's refusal as this recipient's entry in the answer (the compat shape): its
// code, dsn and text, with the stage as the command.
Reply refused_by_filter(const milter::Verdict& v, const std::string& rcpt) {
    Reply r;
    r.code = v.code;
    r.dsn = v.dsn;
    r.rcpt = rcpt;
    r.command = v.stage;
    r.message = {v.text};
    r.cause = "milter " + v.filter;
    return r;
}

Reply kept_by_filter(const milter::Verdict& v, const std::string& rcpt, bool quarantined) {
    Reply r;
    r.rcpt = rcpt;
    r.command = "DATA";
    r.cause = "milter " + v.filter;
    if (quarantined) {  // /submit has no queue to hold it in
        r.code = 451;
        r.dsn = "4.7.1";
        r.message = {"The message was quarantined by a filter and not relayed; /v1 keeps it held"};
    } else {
        r.code = 250;
        r.dsn = "2.0.0";
        r.message = {"Discarded by a filter"};
    }
    return r;
}

// With milters, each recipient's own copy (its own To:) goes through them as one session,
// so that what a filter signs is what that recipient gets, and a refusal is that
// recipient's alone.
asio::awaitable<Reply> filter_and_relay(const Submission& s, const BuiltMessage& message, const Config& config,
                                        MailerSet& mailers, const std::string& rcpt, plugin::Session& plugins) {
    queue::NewMessage n;
    n.id = s.queueid;
    n.mail = s.mail;
    n.rcpts = {rcpt};
    n.body = message.for_recipient(rcpt);
    if (plugins.watches(plugin::Hook::data_post)) {
        plugins.only_rcpt(rcpt);
        const plugin::Result r = co_await plugin_message_stage(plugins, plugin::Hook::data_post, config, n);
        if (r.refused()) co_return plugin_reply(r, rcpt);
        if (n.held || n.rcpts.empty()) {
            milter::Verdict by_plugin;
            by_plugin.filter = "(a plugin)";
            co_return kept_by_filter(by_plugin, rcpt, n.held);
        }
    }
    if (!config.milters.empty()) {
        milter::ClientFacts client;
        client.address = s.client.address;
        client.port = static_cast<std::uint16_t>(s.client.port);
        client.our_hostname = config.smtpd.hostname;
        client.auth_user = s.client.user;
        const FilterResult f = co_await filter_submission(config, client, s.ehlo, n);
        if (!f.refused_rcpts.empty()) co_return refused_by_filter(f.refused_rcpts.front().second, rcpt);
        if (f.verdict.refused()) co_return refused_by_filter(f.verdict, rcpt);
        if (f.verdict.kind == milter::Verdict::Kind::discard || n.held || n.rcpts.empty())
            co_return kept_by_filter(f.verdict, rcpt, n.held);
    }
    Submission one = s;
    one.mail = n.mail;
    const BuiltMessage filtered = built_from_bytes(message.message_id, n.body);
    // A filter may have changed the recipient (added ones are relayed too).
    one.rcpt = n.rcpts;
    std::vector<Reply> replies = co_await relay_submission(one, filtered, config, mailers);
    for (auto& r : replies)
        if (r.rcpt == rcpt || replies.size() == 1) co_return std::move(r);
    co_return std::move(replies.front());
}

}  // namespace

asio::awaitable<std::vector<Reply>> relay_now(const Submission& submission, const Config& config,
                                              MailerSet& mailers, plugin::Session& plugins) {
    const BuiltMessage message = build_message(submission, config);
    if (config.milters.empty() && !plugins.watches(plugin::Hook::data_post))
        co_return co_await relay_submission(submission, message, config, mailers);
    std::vector<Reply> replies;
    for (const auto& rcpt : submission.rcpt)
        replies.push_back(co_await filter_and_relay(submission, message, config, mailers, rcpt, plugins));
    co_return replies;
}

}  // namespace haineko
