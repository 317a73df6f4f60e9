#include "pipeline/filtering.hpp"

#include "milter/changes.hpp"
#include "pipeline/acceptance_routes.hpp"

namespace haineko {

namespace asio = boost::asio;

asio::awaitable<milter::Verdict> filter_message(milter::Chain& chain, const Config& config, queue::NewMessage& n) {
    milter::Editable e = milter::editable(n.body, n.mail, n.rcpts);
    milter::Verdict v = co_await chain.message(e, n.id);
    if (v.refused()) co_return v;
    if (!e.changed) {  // untouched: the bytes stay as they came (a signature over them holds)
        n.held = n.held || v.quarantined;
        co_return v;
    }
    n.body = milter::message_of(e);
    const bool sender_changed = e.sender != n.mail;
    n.mail = e.sender;
    if (sender_changed && e.rcpts == n.rcpts) n.routes = routes_at_acceptance(config, n.mail, n.rcpts);
    if (e.rcpts != n.rcpts) {
        // A recipient a filter kept keeps its DSN parameters; one it added has none.
        std::vector<queue::RcptDsn> dsn;
        for (const auto& rcpt : e.rcpts) {
            queue::RcptDsn d;
            for (std::size_t i = 0; i < n.rcpts.size() && i < n.rcpt_dsn.size(); ++i)
                if (n.rcpts[i] == rcpt) d = n.rcpt_dsn[i];
            dsn.push_back(std::move(d));
        }
        n.rcpts = e.rcpts;
        n.rcpt_dsn = std::move(dsn);
        n.routes = routes_at_acceptance(config, n.mail, n.rcpts);
    }
    n.held = n.held || v.quarantined;
    co_return v;
}

asio::awaitable<FilterResult> filter_submission(const Config& config, const milter::ClientFacts& client,
                                                const std::string& helo, queue::NewMessage& n) {
    FilterResult result;
    milter::Chain chain(co_await asio::this_coro::executor, config.milters);
    // Each stage in SMTP order; the first refusal of the message ends the session.
    result.verdict = co_await chain.connect(client);
    if (result.verdict.kind == milter::Verdict::Kind::go_on) result.verdict = co_await chain.helo(helo);
    if (result.verdict.kind == milter::Verdict::Kind::go_on) result.verdict = co_await chain.mail(n.mail, {});
    if (result.verdict.kind == milter::Verdict::Kind::go_on) {
        std::vector<std::string> kept;
        for (const auto& rcpt : n.rcpts) {
            milter::Verdict v = co_await chain.rcpt(rcpt, {});
            if (v.refused()) {
                result.refused_rcpts.emplace_back(rcpt, std::move(v));
                continue;
            }
            if (v.kind == milter::Verdict::Kind::discard) {
                result.verdict = v;
                break;
            }
            kept.push_back(rcpt);
        }
        if (kept.size() != n.rcpts.size()) {
            n.rcpt_dsn.clear();  // HTTP submissions carry no DSN parameters
            n.rcpts = kept;
            n.routes = routes_at_acceptance(config, n.mail, n.rcpts);
        }
    }
    if (result.verdict.kind == milter::Verdict::Kind::go_on && !n.rcpts.empty())
        result.verdict = co_await filter_message(chain, config, n);
    else
        co_await chain.abort();
    co_await chain.close();
    co_return result;
}

}  // namespace haineko
