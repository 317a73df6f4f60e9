#include "http/v1_routes.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "core/address.hpp"
#include "core/digest.hpp"
#include "core/queueid.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "http/openapi.hpp"
#include "http/v1_answer.hpp"
#include "http/v1_request.hpp"
#include "message/compose.hpp"
#include "policy/access.hpp"
#include "pipeline/filtering.hpp"
#include "pipeline/http_play.hpp"
#include "pipeline/plugin_stages.hpp"
#include "plugin/session.hpp"
#include "pipeline/acceptance_routes.hpp"
#include "policy/stages.hpp"
#include "queue/service.hpp"
#include "relay/route_choice.hpp"

namespace haineko {

namespace {

namespace json = boost::json;
using namespace haineko::queue;

constexpr std::size_t kMaxIdempotencyKey = 255;
constexpr const char* kRetryAfter = "30";

struct Caller {
    std::optional<std::string> user;  // set when auth is on: sees only their own
    std::string user_name;            // "" when anonymous
    ClientFacts client;
    const Peer* peer = nullptr;
};

std::string header_text(const Request& r, std::string_view name) {
    auto it = r.find(name);
    return it == r.end() ? std::string() : std::string(it->value());
}

// The query parameter's value (no decoding: the values here are names and numbers).
std::optional<std::string> query_param(std::string_view target, std::string_view name) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

std::optional<long long> as_number(const std::string& text) {
    long long v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

bool is_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
    return true;
}

Response unavailable(const Request& r, const std::string& why) {
    Response res = v1_error(503, "queue-unavailable", why, r);
    res.set(http::field::retry_after, kRetryAfter);
    return res;
}

milter::ClientFacts milter_client(const Caller& caller, const Config& config) {
    milter::ClientFacts f;
    f.address = caller.client.address;
    f.port = static_cast<std::uint16_t>(caller.client.port);
    f.our_hostname = config.smtpd.hostname;
    f.auth_user = caller.user_name;
    return f;
}

// A milter's refusal of the message or of a recipient: 422 rejected-by-filter with the
// filter's reply; a temporary one 503 filter-tempfail with Retry-After. Nothing is queued.
std::optional<Response> filter_refusal(const FilterResult& f, const Request& r, const std::string& id) {
    const milter::Verdict* v = f.verdict.refused() ? &f.verdict : nullptr;
    std::string field;
    if (!v && !f.refused_rcpts.empty()) {
        v = &f.refused_rcpts.front().second;
        field = "rcpt";
    }
    if (!v) return std::nullopt;
    const std::string what = (field.empty() ? "" : f.refused_rcpts.front().first + ": ") + std::to_string(v->code) +
                             " " + v->dsn + " " + v->text;
    spdlog::info("queueid={} refused by milter {} at {}: {}", id, v->filter, v->stage, what);
    if (v->kind == milter::Verdict::Kind::tempfail) {
        Response res = v1_error(503, "filter-tempfail", "a filter asks to try again later: " + what, r, field);
        res.set(http::field::retry_after, kRetryAfter);
        return res;
    }
    return v1_error(422, "rejected-by-filter", "a filter refused the message: " + what, r, field);
}

// A plugin's refusal (spec/plugins.md, "Answers outside SMTP"): 422 rejected-by-plugin,
// or 503 deferred-by-plugin with Retry-After; the plugin, the hook and its text.
Response plugin_refusal(const plugin::Result& p, const Request& r, const std::string& id, const std::string& field) {
    const std::string text = p.text.empty() ? p.smtp_text() : p.text;
    spdlog::info("queueid={} refused by plugin {} at {}: {}", id, p.plugin.empty() ? "-" : p.plugin,
                 plugin::hook_name(p.hook), one_line(p.smtp_reply()));
    json::object error{{"code", p.temporary() ? "deferred-by-plugin" : "rejected-by-plugin"},
                       {"message", text},
                       {"plugin", p.plugin},
                       {"hook", plugin::hook_name(p.hook)}};
    if (!field.empty()) error["field"] = field;
    Response res = v1_response(p.temporary() ? http::status::service_unavailable : http::status::unprocessable_entity,
                               json::object{{"error", std::move(error)}}, r);
    if (p.temporary()) res.set(http::field::retry_after, kRetryAfter);
    return res;
}

plugin::ConnFacts http_conn_facts(const Caller& caller) {
    plugin::ConnFacts f;
    f.id = caller.peer->session_id;
    f.remote_ip = caller.client.address;
    f.remote_port = caller.client.port;
    f.local_ip = caller.peer->local_address;
    f.local_port = caller.peer->local_port;
    f.mode = "http";
    f.listener_address = caller.peer->local_address + ":" + std::to_string(caller.peer->local_port);
    return f;
}

Response not_allowed(const Request& r, const char* allow) {
    Response res = v1_error(405, "method-not-allowed", std::string("allowed: ") + allow, r);
    res.set(http::field::allow, allow);
    return res;
}

Response not_found(const Request& r) { return v1_error(404, "not-found", "no such message or path", r); }

// --- POST /v1/messages ---------------------------------------------------------------

Composition composition_for(const V1Message& m, const Config& config, const Caller& caller, const std::string& id) {
    Composition c = composition_of(m);
    c.hostname = config.smtpd.hostname;
    c.message_id = queued_message_id(id, config.smtpd.hostname);
    Submission& s = c.origin;
    s.queueid = id;
    s.started = std::chrono::system_clock::now();
    s.client = caller.client;
    s.client.user = caller.user_name;
    s.mail = m.mail;
    s.header.loop = {config.node_id};
    return c;
}

NewMessage new_message(const V1Message& m, const Composition& c, const Config& config, const std::string& user) {
    NewMessage n;
    n.id = c.origin.queueid;
    n.user = user;
    n.message_id = "<" + c.message_id + ">";
    n.from = m.from_address;
    n.mail = m.mail;
    n.subject = m.subject;
    n.rcpts = m.rcpts;
    n.routes = routes_at_acceptance(config, m.mail, m.rcpts);
    n.body = compose_message(c);
    n.created_at = std::chrono::duration_cast<std::chrono::milliseconds>(c.origin.started.time_since_epoch()).count();
    n.send_at = m.send_at;
    n.tags = m.tags;
    n.metadata = m.metadata;
    return n;
}

std::string accepted_json(const NewMessage& n) {
    json::array recipients;
    for (const auto& r : n.rcpts) recipients.push_back(json::object{{"rcpt", r}, {"status", "queued"}});
    return json::serialize(json::object{
        {"id", n.id}, {"status", "pending"}, {"message_id", n.message_id}, {"recipients", std::move(recipients)}});
}

Response accepted(const Request& r, http::status status, const std::string& body, const std::string& id) {
    Response res = json_response(status, body, r.version(), r.keep_alive());
    res.set(http::field::location, "/v1/messages/" + id);
    return res;
}

void log_accepted(const NewMessage& n, const Caller& caller, int status) {
    std::string to;
    for (const auto& r : n.rcpts) to += (to.empty() ? "" : ",") + r;
    spdlog::info("queueid={} client={}:{}{} status={} api=v1 from=<{}> to=<{}> size={}", n.id, caller.client.address,
                 caller.client.port, caller.user_name.empty() ? "" : " user=" + loggable(caller.user_name), status,
                 loggable(n.mail), loggable(to), n.body.size());
}

// The envelope as the plugins left it: their refusal, or the built-in recipients check
// on every recipient no plugin said OK to (nothing is queued on a refusal).
boost::asio::awaitable<std::optional<Response>> plugin_envelope(const Request& r, const Config& config, const V1Message& m,
                                                                const Caller& caller, plugin::Session& plugins,
                                                                const std::string& id, std::string& mail,
                                                                std::vector<std::string>& rcpts) {
    mail = m.mail;
    rcpts = m.rcpts;
    // A named value, not a temporary: GCC 12 destroys a braced temporary in a co_await twice.
    const EnvelopeIn in{id, std::nullopt, caller.user_name};
    const EnvelopePlay play = co_await play_envelope(plugins, in, mail, rcpts, true);
    if (play.refused) co_return plugin_refusal(*play.refused, r, id, "");
    for (std::size_t i = 0; i < rcpts.size(); ++i)
        if (play.rcpt_refused[i]) co_return plugin_refusal(*play.rcpt_refused[i], r, id, m.rcpt_fields[i]);
    for (std::size_t i = 0; i < rcpts.size(); ++i)
        if (!play.rcpt_ok[i] && rcpt_refusal(config, rcpts[i]))
            co_return v1_error(422, "rcpt-rejected", rcpts[i] + " is not allowed by recipients", r, m.rcpt_fields[i]);
    co_return std::nullopt;
}

boost::asio::awaitable<Response> accept_message(const Request& r, const Config& config, QueueService& q,
                                                const Caller& caller, const V1Message& m, const std::string& key,
                                                plugin::Session& plugins);

boost::asio::awaitable<Response> post_message(const Request& r, const Config& config, QueueService& q,
                                              const Caller& caller) {
    const std::string key = header_text(r, "Idempotency-Key");
    if (key.size() > kMaxIdempotencyKey || !is_valid_utf8(key))
        co_return v1_error(400, "invalid-field", "Idempotency-Key is at most 255 characters", r, "Idempotency-Key");
    auto read = read_v1_message(r.body(), static_cast<std::size_t>(config.v1.max_recipients));
    if (auto* problem = std::get_if<V1Problem>(&read)) co_return v1_error(*problem, r);
    plugin::Session plugins(caller.peer->plugins, http_conn_facts(caller));
    Response res = co_await accept_message(r, config, q, caller, std::get<V1Message>(read), key, plugins);
    const std::string outcome = res.result_int() == 202 ? "queued" : "refused";
    co_await plugins.disconnect(outcome);  // after the answer is made, as the contract says
    co_return res;
}

boost::asio::awaitable<Response> accept_message(const Request& r, const Config& config, QueueService& q,
                                                const Caller& caller, const V1Message& m, const std::string& key,
                                                plugin::Session& plugins) {
    const std::string id = make_queueid(std::chrono::system_clock::now());
    std::string mail;
    std::vector<std::string> rcpts;
    if (plugins.active()) {
        if (auto refused = co_await plugin_envelope(r, config, m, caller, plugins, id, mail, rcpts))
            co_return std::move(*refused);
    } else {
        for (std::size_t i = 0; i < m.rcpts.size(); ++i)
            if (rcpt_refusal(config, m.rcpts[i]))
                co_return v1_error(422, "rcpt-rejected", m.rcpts[i] + " is not allowed by recipients", r, m.rcpt_fields[i]);
    }
    NewMessage n = new_message(m, composition_for(m, config, caller, id), config, caller.user_name);
    if (plugins.active()) {
        n.mail = std::move(mail);
        n.rcpts.clear();
        for (auto& rcpt : rcpts)
            if (std::find(n.rcpts.begin(), n.rcpts.end(), rcpt) == n.rcpts.end()) n.rcpts.push_back(std::move(rcpt));
        n.routes = routes_at_acceptance(config, n.mail, n.rcpts);
        const plugin::Result p = co_await plugin_message_stage(plugins, plugin::Hook::data_post, config, n);
        if (p.refused()) co_return plugin_refusal(p, r, id, "");
    }
    if (!config.milters.empty()) {
        const FilterResult filtered = co_await filter_submission(config, milter_client(caller, config), "[" + caller.client.address + "]", n);
        if (auto refusal = filter_refusal(filtered, r, n.id)) co_return std::move(*refusal);
        if (filtered.verdict.kind == milter::Verdict::Kind::discard || n.rcpts.empty()) {
            spdlog::info("queueid={} client={}:{} discarded by milter {}", n.id, caller.client.address,
                         caller.client.port, filtered.verdict.filter);
            co_return accepted(r, http::status::accepted, accepted_json(n), n.id);
        }
    }
    const long long max_size = config.smtpd.max_message_size.valid ? config.smtpd.max_message_size.value : 4194304;
    if (max_size > 0 && static_cast<long long>(n.body.size()) > max_size)
        co_return v1_error(413, "too-large",
                           "the message is " + std::to_string(n.body.size()) + " octets; max_message_size is " +
                               std::to_string(max_size),
                           r);
    if (plugins.watches(plugin::Hook::queue)) {
        const plugin::Result p = co_await plugin_message_stage(plugins, plugin::Hook::queue, config, n);
        if (p.refused()) co_return plugin_refusal(p, r, id, "");
    }
    if (n.rcpts.empty()) {
        spdlog::info("queueid={} client={}:{} discarded: a plugin left no recipient", n.id, caller.client.address,
                     caller.client.port);
        co_return accepted(r, http::status::accepted, accepted_json(n), n.id);
    }
    std::optional<IdempotencyClaim> claim;
    const std::string answer = accepted_json(n);
    if (!key.empty()) claim = IdempotencyClaim{key, sha256_hex(r.body()), answer};
    take_plugin_notes(plugins, n);
    Enqueued done;
    try {
        done = co_await q.store().enqueue(n, claim);
    } catch (const StoreUnavailable& e) {
        spdlog::error("queueid={} not accepted: {}", n.id, e.what());
        co_return unavailable(r, "the queue cannot take messages now; try again later");
    }
    if (done.kind == Enqueued::Kind::conflict)
        co_return v1_error(409, "idempotency-conflict", "this Idempotency-Key was used with another body", r,
                           "Idempotency-Key");
    if (done.kind == Enqueued::Kind::replay) {
        const auto first = json::parse(done.answer).as_object().at("id").as_string();
        co_return accepted(r, http::status::ok, done.answer, std::string(first));
    }
    q.wake();
    log_accepted(n, caller, 202);
    co_return accepted(r, http::status::accepted, answer, n.id);
}

// --- reading and acting ------------------------------------------------------------------

boost::asio::awaitable<Response> get_message(const Request& r, QueueService& q, const Caller& caller,
                                             const std::string& id) {
    auto m = co_await q.store().find(id, caller.user);
    if (!m) co_return not_found(r);
    co_return v1_response(http::status::ok, message_json(*m, false), r);
}

boost::asio::awaitable<Response> list_messages(const Request& r, QueueService& q, const Caller& caller) {
    ListQuery query;
    query.user = caller.user;
    if (auto status = query_param(r.target(), "status")) {
        query.status = message_status_named(*status);
        if (!query.status)
            co_return v1_error(400, "invalid-field", "status is one of pending, delivered, bounced, cancelled, partial", r,
                               "status");
    }
    if (auto limit = query_param(r.target(), "limit")) {
        auto n = as_number(*limit);
        if (!n || *n < 1 || *n > 1000) co_return v1_error(400, "invalid-field", "limit is 1 to 1000", r, "limit");
        query.limit = static_cast<int>(*n);
    }
    if (auto after = query_param(r.target(), "after")) {
        auto n = as_number(*after);
        if (!n || *n < 1) co_return v1_error(400, "invalid-field", "after is a cursor from an earlier page", r, "after");
        query.before = *n;
    }
    const MessagePage page = co_await q.store().list(query);
    json::array messages;
    for (const auto& m : page.messages) messages.push_back(message_json(m, true));
    const json::value next = page.next ? json::value(std::to_string(*page.next)) : json::value(nullptr);
    co_return v1_response(http::status::ok, json::object{{"messages", std::move(messages)}, {"next", next}}, r);
}

boost::asio::awaitable<Response> act(const Request& r, QueueService& q, const Caller& caller, const std::string& id,
                                     Action action) {
    const ActResult done = co_await q.store().act(id, caller.user, action, now_millis());
    if (done.kind == ActResult::Kind::not_found) co_return not_found(r);
    if (done.kind == ActResult::Kind::not_pending)
        co_return v1_error(409, "not-pending", "the message has no pending recipient", r);
    if (action == Action::retry || action == Action::release) q.wake();
    spdlog::info("queueid={} action={} by={}", id,
                 action == Action::retry ? "retry" : action == Action::hold ? "hold" : action == Action::release ? "release" : "cancel",
                 caller.user_name.empty() ? caller.client.address : loggable(caller.user_name));
    co_return v1_response(http::status::ok, message_json(done.message, false), r);
}

boost::asio::awaitable<Response> queue_counts(const Request& r, QueueService& q) {
    co_return v1_response(http::status::ok, counts_json(co_await q.store().counts()), r);
}

// An extension of the contract, for `hainekoctl queue flush`: every deferred recipient due now.
boost::asio::awaitable<Response> flush_all(const Request& r, QueueService& q, const Caller& caller) {
    const std::int64_t n = co_await q.store().retry_all(now_millis());
    q.wake();
    spdlog::info("queue flush: {} deferred recipient(s) due now, by {}", n,
                 caller.user_name.empty() ? caller.client.address : loggable(caller.user_name));
    co_return v1_response(http::status::ok, json::object{{"flushed", n}}, r);
}

boost::asio::awaitable<Response> event_feed(const Request& r, QueueService& q) {
    std::int64_t after = 0;
    int limit = 100;
    if (auto a = query_param(r.target(), "after")) {
        auto n = as_number(*a);
        if (!n || *n < 0) co_return v1_error(400, "invalid-field", "after is an event seq", r, "after");
        after = *n;
    }
    if (auto l = query_param(r.target(), "limit")) {
        auto n = as_number(*l);
        if (!n || *n < 1 || *n > 1000) co_return v1_error(400, "invalid-field", "limit is 1 to 1000", r, "limit");
        limit = static_cast<int>(*n);
    }
    const EventPage page = co_await q.store().events(after, limit);
    json::array events;
    for (const auto& e : page.events) events.push_back(event_json(e, true));
    co_return v1_response(http::status::ok, json::object{{"events", std::move(events)}, {"next", page.next}}, r);
}

// --- routing -------------------------------------------------------------------------------

std::optional<Action> action_named(std::string_view name) {
    if (name == "retry") return Action::retry;
    if (name == "hold") return Action::hold;
    if (name == "release") return Action::release;
    return std::nullopt;
}

boost::asio::awaitable<Response> route(const Request& r, const Config& config, QueueService& q, const Caller& caller,
                                       std::string_view path) {
    const auto method = r.method();
    if (path == "/v1/messages") {
        if (method == http::verb::post) co_return co_await post_message(r, config, q, caller);
        if (method == http::verb::get) co_return co_await list_messages(r, q, caller);
        co_return not_allowed(r, "GET, POST");
    }
    // Counts, the feed and flush act on everyone's mail: loopback only, or any user when
    // auth is on.
    if (path == "/v1/queue" || path == "/v1/events" || path == "/v1/queue/flush") {
        const auto wanted = path == "/v1/queue/flush" ? http::verb::post : http::verb::get;
        if (method != wanted) co_return not_allowed(r, wanted == http::verb::post ? "POST" : "GET");
        if (!config.basic_auth && !is_loopback(caller.client.address))
            co_return v1_error(403, "access-denied", std::string(path) + " answers local clients only", r);
        if (path == "/v1/queue") co_return co_await queue_counts(r, q);
        if (path == "/v1/events") co_return co_await event_feed(r, q);
        co_return co_await flush_all(r, q, caller);
    }
    if (!path.starts_with("/v1/messages/")) co_return not_found(r);
    std::string_view rest = path.substr(13);
    const auto slash = rest.find('/');
    const std::string id(rest.substr(0, slash));
    if (!is_id(id)) co_return not_found(r);
    if (slash == std::string_view::npos) {
        if (method == http::verb::get) co_return co_await get_message(r, q, caller, id);
        if (method == http::verb::delete_) co_return co_await act(r, q, caller, id, Action::cancel);
        co_return not_allowed(r, "GET, DELETE");
    }
    auto action = action_named(rest.substr(slash + 1));
    if (!action) co_return not_found(r);
    if (method != http::verb::post) co_return not_allowed(r, "POST");
    // Hold and release act on everyone's mail, like the queue counts.
    if ((*action == Action::hold || *action == Action::release) && !config.basic_auth &&
        !is_loopback(caller.client.address))
        co_return v1_error(403, "access-denied", "hold and release answer local clients only", r);
    co_return co_await act(r, q, caller, id, *action);
}

}  // namespace

bool is_v1_path(std::string_view path) { return path == "/v1" || path.starts_with("/v1/"); }

boost::asio::awaitable<Response> handle_v1(const Request& r, const Peer& peer, const Config& config,
                                           QueueService* q) {
    Caller caller;
    caller.client = client_facts(r, peer, config);
    caller.peer = &peer;
    const std::string_view target = r.target();
    const std::string_view path = target.substr(0, target.find('?'));
    // The API's description is public, like GET /.
    if (path == "/v1/openapi.json") {
        if (r.method() != http::verb::get) co_return not_allowed(r, "GET");
        co_return json_response(http::status::ok, std::string(kOpenApiV1), r.version(), r.keep_alive());
    }
    if (config.basic_auth) {
        auto who = basic_auth_user(config, header_text(r, "Authorization"));
        if (!who) {
            Response res = v1_error(401, "auth-required", "credentials are required", r);
            res.set(http::field::www_authenticate, "Basic realm=\"Haineko\"");
            co_return res;
        }
        caller.user = *who;
        caller.user_name = *who;
    }
    if (auto refused = connect_refusal(config, caller.client.address, caller.user.has_value()))
        co_return v1_error(403, "access-denied", "client " + caller.client.address + " is not in relayhosts", r);
    if (!q) co_return unavailable(r, "this server has no queue");
    try {
        co_return co_await route(r, config, *q, caller, path);
    } catch (const StoreUnavailable& e) {
        spdlog::error("queue unavailable: {}", e.what());
    }
    co_return unavailable(r, "the queue cannot answer now; try again later");
}

}  // namespace haineko
