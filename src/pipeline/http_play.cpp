#include "pipeline/http_play.hpp"

#include <spdlog/spdlog.h>

#include "core/text.hpp"
#include "pipeline/plugin_stages.hpp"

namespace haineko {

namespace {

namespace asio = boost::asio;
using plugin::Hook;

plugin::Result broken_address(const plugin::Result& r, Hook hook, const std::string& address, const std::string& queue_id) {
    spdlog::error("plugin={} hook={} queueid={} failed: it rewrote the address into '{}'", r.plugin, plugin::hook_name(hook),
                  queue_id, loggable(address));
    plugin::Result failed;
    failed.answer = plugin::Answer::denysoft;
    failed.hook = hook;
    failed.plugin = r.plugin;
    failed.failure = "a rewrite into something that is not an address";
    return failed;
}

asio::awaitable<std::optional<plugin::Result>> play_session_start(plugin::Session& plugins, const EnvelopeIn& in) {
    plugin::Result r = co_await plugins.connect();
    if (r.refused()) co_return r;
    const std::string verb = "EHLO", mechanism = "BASIC";  // named: no temporaries in a co_await (GCC 12)
    if (in.ehlo) {
        r = co_await plugins.ehlo(verb, *in.ehlo);
        if (r.refused()) co_return r;
    }
    if (!in.user.empty()) {
        r = co_await plugins.auth(in.user, mechanism);
        if (r.refused()) co_return r;
    }
    co_return std::nullopt;
}

}  // namespace

asio::awaitable<EnvelopePlay> play_envelope(plugin::Session& plugins, const EnvelopeIn& in, std::string& mail,
                                            std::vector<std::string>& rcpts, bool stop_at_refusal) {
    EnvelopePlay play;
    play.rcpt_refused.resize(rcpts.size());
    play.rcpt_ok.resize(rcpts.size(), false);
    if (!plugins.active()) co_return play;
    if (auto refused = co_await play_session_start(plugins, in)) {
        play.refused = std::move(refused);
        co_return play;
    }
    std::string sender = mail;
    const plugin::Params none;  // HTTP carries no ESMTP parameters
    plugin::Result r = co_await plugins.mail(in.queue_id, sender, none);
    if (!r.refused() && sender != mail && !plugin_address_ok(sender, true))
        r = broken_address(r, Hook::mail, sender, in.queue_id);
    if (r.refused()) {
        play.refused = std::move(r);
        co_return play;
    }
    mail = std::move(sender);
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
        std::string address = rcpts[i];
        r = co_await plugins.rcpt(address, none);
        if (!r.refused() && address != rcpts[i] && !plugin_address_ok(address, false))
            r = broken_address(r, Hook::rcpt, address, in.queue_id);
        if (r.refused()) {
            play.rcpt_refused[i] = std::move(r);
            if (stop_at_refusal) co_return play;
            continue;
        }
        rcpts[i] = std::move(address);
        play.rcpt_ok[i] = r.answer == plugin::Answer::ok;
        plugins.accept_rcpt();
    }
    co_return play;
}

}  // namespace haineko
