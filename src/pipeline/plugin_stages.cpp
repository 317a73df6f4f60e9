#include "pipeline/plugin_stages.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "core/address.hpp"
#include "message/entity.hpp"
#include "pipeline/acceptance_routes.hpp"

namespace haineko {

namespace {

namespace asio = boost::asio;

plugin::Result broken_rewrite(plugin::Hook hook, const std::string& what) {
    plugin::Result r;
    r.answer = plugin::Answer::denysoft;
    r.hook = hook;
    r.failure = what;
    return r;
}

// The recipients a plugin left, without duplicates; each keeps its DSN parameters.
void take_recipients(queue::NewMessage& n, const std::vector<std::string>& rcpts) {
    std::vector<std::string> kept;
    std::vector<queue::RcptDsn> dsn;
    std::set<std::string> seen;
    for (const auto& rcpt : rcpts) {
        if (!seen.insert(rcpt).second) continue;
        queue::RcptDsn d;
        for (std::size_t i = 0; i < n.rcpts.size() && i < n.rcpt_dsn.size(); ++i)
            if (n.rcpts[i] == rcpt) d = n.rcpt_dsn[i];
        kept.push_back(rcpt);
        dsn.push_back(std::move(d));
    }
    n.rcpt_dsn = n.rcpt_dsn.empty() ? std::vector<queue::RcptDsn>{} : std::move(dsn);
    n.rcpts = std::move(kept);
}

}  // namespace

void take_plugin_notes(const plugin::Session& plugins, queue::NewMessage& n) {
    for (const auto& e : plugins.events()) n.plugin_notes.push_back(queue::PluginNote{e.plugin, e.hook, e.answer, e.text});
}

bool plugin_address_ok(const std::string& address, bool sender) {
    if (address.empty()) return sender;
    return is_email_address(address) || is_email_address_allowing_utf8(address);
}

asio::awaitable<plugin::Result> plugin_message_stage(plugin::Session& plugins, plugin::Hook hook, const Config& config,
                                                     queue::NewMessage& n) {
    plugin::TxnMessage m{n.mail, n.rcpts, n.body, {}, false};
    plugin::Result r;  // not a ?: of two co_awaits, which GCC 12 gets wrong
    if (hook == plugin::Hook::data_post) r = co_await plugins.data_post(m);
    else r = co_await plugins.queue(m);
    if (r.refused()) co_return r;
    if (!m.hold.empty()) n.held = true;
    if (!m.changed) co_return r;
    // Only what the plugins wrote is checked: what the client sent passed the parser.
    if (m.mail != n.mail && !plugin_address_ok(m.mail, true))
        co_return broken_rewrite(hook, "a plugin set the sender to '" + m.mail + "', which is not an address");
    for (const auto& rcpt : m.rcpts)
        if (std::find(n.rcpts.begin(), n.rcpts.end(), rcpt) == n.rcpts.end() && !plugin_address_ok(rcpt, false))
            co_return broken_rewrite(hook, "a plugin set a recipient to '" + rcpt + "', which is not an address");
    n.mail = std::move(m.mail);
    take_recipients(n, m.rcpts);
    n.routes = routes_at_acceptance(config, n.mail, n.rcpts);
    if (m.bytes != n.body) {
        n.body = std::move(m.bytes);
        const Entity head = split_entity(n.body);
        n.from = address_in(head.field("from"));
        n.subject = head.field("subject");
    }
    co_return r;
}

}  // namespace haineko
