#include "pipeline/submit_plugins.hpp"

#include "core/text.hpp"
#include "pipeline/http_play.hpp"
#include "policy/stages.hpp"

namespace haineko {

namespace asio = boost::asio;

Reply plugin_reply(const plugin::Result& r, const std::string& rcpt) {
    Reply reply;
    reply.code = r.smtp_code();
    reply.dsn = r.smtp_dsn();
    reply.rcpt = rcpt;
    reply.command = to_upper(r.hook == plugin::Hook::data_post ? std::string("DATA") : plugin::hook_name(r.hook));
    reply.message = {r.smtp_text()};
    reply.cause = "plugin " + (r.plugin.empty() ? std::string("-") : r.plugin) + (r.failure.empty() ? "" : " failed");
    return reply;
}

asio::awaitable<SubmitPlay> play_submission(plugin::Session& plugins, const Config& config, Submission& s,
                                            const std::vector<std::string>& requested, const std::string& user) {
    SubmitPlay out;
    std::string mail = s.mail;
    std::vector<std::string> rcpts = requested;
    const EnvelopeIn in{s.queueid, s.ehlo, user};  // named: GCC 12 mishandles a braced temporary in co_await
    const EnvelopePlay play = co_await play_envelope(plugins, in, mail, rcpts, false);
    s.rcpt.clear();
    if (play.refused) {
        for (const auto& rcpt : requested) out.replies.push_back(plugin_reply(*play.refused, rcpt));
        out.http_status = 400;
        co_return out;
    }
    s.mail = std::move(mail);
    for (std::size_t i = 0; i < requested.size(); ++i) {
        if (play.rcpt_refused[i]) {
            out.replies.push_back(plugin_reply(*play.rcpt_refused[i], requested[i]));
            continue;
        }
        if (!play.rcpt_ok[i])
            if (auto refused = rcpt_refusal(config, rcpts[i])) {
                out.replies.push_back(std::move(*refused));
                continue;
            }
        s.rcpt.push_back(rcpts[i]);
    }
    if (s.rcpt.empty()) {
        out.http_status = 400;
        co_return out;
    }
    if (auto refused = data_refusal(config, s)) {  // skipped by the checks when nobody was left
        out.http_status = refused->id == "conf/not-looks-like-number" ? 500 : 400;
        out.replies = {std::move(*refused)};
    }
    co_return out;
}

}  // namespace haineko
