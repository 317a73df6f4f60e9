#include "http/handlers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/queueid.hpp"
#include "core/text.hpp"
#include "http/answer.hpp"
#include "http/metrics.hpp"
#include "policy/access.hpp"
#include "http/submission_json.hpp"
#include "http/v1_routes.hpp"
#include "pipeline/relay_now.hpp"
#include "pipeline/submit_plugins.hpp"
#include "plugin/session.hpp"
#include "policy/stages.hpp"

namespace haineko {
namespace {

namespace json = boost::json;

std::string header_text(const http::request_header<>& r, http::field f) {
    auto it = r.find(f);
    return it == r.end() ? std::string() : std::string(it->value());
}

// Every X-Forwarded-For line, in order, as one list: a proxy appends its own line after
// any the client sent, so reading only the first would believe the client.
std::string forwarded_for(const http::request_header<>& r) {
    std::string joined;
    auto [first, last] = r.equal_range("X-Forwarded-For");
    for (auto it = first; it != last; ++it) {
        if (!joined.empty()) joined += ',';
        joined += std::string(it->value());
    }
    return joined;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// application/x-www-form-urlencoded: %XX and "+" for space.
std::string form_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

Submission start_submission(const Request& r, const Peer& peer, const Config& config, const std::string& user) {
    Submission s;
    s.started = std::chrono::system_clock::now();
    s.queueid = make_queueid(s.started);
    s.client = client_facts(r, peer, config);
    s.client.user = user;
    return s;
}

// GET /submit?ehlo=...&mail=...&rcpt=a&rcpt=b&header.subject=... in development mode.
json::value request_from_query(std::string_view target) {
    json::object o, header;
    json::array rcpt;
    auto q = target.find('?');
    if (q == std::string_view::npos) return o;
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        size_t eq = pair.find('=');
        std::string key = form_decode(pair.substr(0, eq));
        // %XX may decode to bytes that are not UTF-8; they are repaired like any client text.
        std::string value = eq == std::string_view::npos ? std::string() : repaired_utf8(form_decode(pair.substr(eq + 1)));
        if (key == "rcpt" || key == "to" || key == "recv") {
            size_t pos = 0;  // "a,b" as well as repeated keys
            while (pos <= value.size()) {
                size_t comma = value.find(',', pos);
                std::string one = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
                if (!one.empty()) rcpt.emplace_back(one);
                if (comma == std::string::npos) break;
                pos = comma + 1;
            }
        } else if (key.starts_with("header.")) {
            header[key.substr(7)] = value;
        } else {
            o[key] = value;
        }
    }
    o["rcpt"] = std::move(rcpt);
    o["header"] = std::move(header);
    return o;
}

plugin::ConnFacts submit_conn_facts(const Peer& peer, const ClientFacts& client) {
    plugin::ConnFacts f;
    f.id = peer.session_id;
    f.remote_ip = client.address;
    f.remote_port = client.port;
    f.local_ip = peer.local_address;
    f.local_port = peer.local_port;
    f.mode = "http";
    f.listener_address = peer.local_address + ":" + std::to_string(peer.local_port);
    return f;
}

void log_submission(const Submission& s, int status, const std::vector<Reply>& replies) {
    std::string to, results;
    for (const auto& r : s.rcpt) to += (to.empty() ? "" : ",") + r;
    for (const auto& r : replies) {
        results += " [";
        results += r.rcpt.value_or("-") + " " + std::to_string(r.code) + " " + r.dsn.value_or("-") + " " + r.command;
        if (r.mailer) results += " mailer=" + *r.mailer;
        if (!r.message.empty()) results += " \"" + r.message.back() + "\"";
        if (!r.cause.empty()) results += " cause=\"" + r.cause + "\"";
        results += "]";
    }
    spdlog::info("queueid={} client={}:{}{} status={} from=<{}> to=<{}>{}", s.queueid, s.client.address, s.client.port,
                 s.client.user.empty() ? "" : " user=" + loggable(s.client.user), status, loggable(s.mail),
                 loggable(to), loggable(results));
}

boost::asio::awaitable<Response> submit(const Request& r, const Peer& peer, const Config& config, MailerSet& mailers,
                                        const std::string& user) {
    const bool keep_alive = r.keep_alive();
    Submission base = start_submission(r, peer, config, user);
    auto answer = [&](int status, const Submission& s, const std::vector<Reply>& replies) {
        log_submission(s, status, replies);
        return json_response(static_cast<http::status>(status), session_json(s, true, replies), r.version(), keep_alive);
    };

    // 2: GET only in development mode
    const bool is_get = r.method() == http::verb::get;
    if ((is_get && !config.options.devel) || (!is_get && r.method() != http::verb::post))
        co_return answer(405, base, {named_reply("http", "method-not-supported")});
    // 3: relayhosts (the connect stage)
    if (auto refused = connect_refusal(config, base.client.address, !user.empty())) {
        const int status = http_status_of(*refused);
        co_return answer(status, base, {std::move(*refused)});
    }

    CheckOutcome checked = is_get ? check_submission_json(config, request_from_query(r.target()), std::move(base))
                                  : check_submission_text(config, r.body(), std::move(base));
    plugin::Session plugins(peer.plugins, submit_conn_facts(peer, checked.submission.client));
    // A refusal of nobody but recipients may still be undone by a plugin's OK at rcpt.
    const bool only_rcpts_refused = checked.http_status == 400 && !checked.requested_rcpts.empty() &&
                                    checked.submission.rcpt.empty() && !checked.replies.empty() &&
                                    std::all_of(checked.replies.begin(), checked.replies.end(),
                                                [](const Reply& x) { return x.rcpt.has_value(); });
    if (plugins.active() && (checked.ready_to_relay() || only_rcpts_refused)) {
        SubmitPlay play = co_await play_submission(plugins, config, checked.submission, checked.requested_rcpts, user);
        checked.http_status = play.http_status;
        checked.replies = std::move(play.replies);
    }
    if (!checked.ready_to_relay()) {
        Response res = answer(checked.http_status, checked.submission, checked.replies);
        const std::string outcome = "refused";
        co_await plugins.disconnect(outcome);
        co_return res;
    }

    std::vector<Reply> relayed = co_await relay_now(checked.submission, config, mailers, plugins);
    const std::string outcome = "relayed";
    co_await plugins.disconnect(outcome);
    std::vector<Reply> replies = std::move(checked.replies);
    for (auto& reply : relayed) replies.push_back(std::move(reply));
    co_return answer(200, checked.submission, replies);
}

json::value conf_json(const Config& config) {
    json::object out;
    out["haineko.cf"] = {{"path", config.conf_path.empty() ? json::value(nullptr) : json::value(config.conf_path)},
                         {"data", config.conf_data}};
    for (const auto& t : config.tables)
        out[t.name] = {{"path", t.path ? json::value(*t.path) : json::value(nullptr)}, {"data", t.data}};
    return out;
}

json::value sample_mail(const std::string& client) {
    return json::array{
        json::object{{"ehlo", "[" + client + "]"},
                     {"mail", "envelope-sender-address@example.org"},
                     {"rcpt", json::array{"envelope-recipient-address-1@example.jp"}},
                     {"header", json::object{{"from", "Your Name <email-from-addr@example.com>"},
                                             {"subject", "Email subject"},
                                             {"replyto", "another-email-address-if-you-want-to-receive@example.net"}}},
                     {"body", "Email message body"}},
        json::object{{"helo", "your-host-name.example.net"},
                     {"from", "envelope-sender-address@example.org"},
                     {"to", json::array{"recipient1@example.com", "recipient2@example.com"}},
                     {"header", json::object{{"from", "\xE3\x81\xAF\xE3\x81\x84\xE3\x81\xAD\xE3\x81\x93 <email-from-addr@example.com>"},
                                             {"subject", "\xE3\x83\xA1\xE3\x83\xBC\xE3\x83\xAB\xE3\x81\xAE\xE4\xBB\xB6\xE5\x90\x8D"},
                                             {"charset", "UTF-8"}}},
                     {"body", "\xE3\x83\xA1\xE3\x83\xBC\xE3\x83\xAB\xE3\x81\xAE\xE6\x9C\xAC\xE6\x96\x87"  // メールの本文
                              "(\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E)"}},                                          // (日本語)
    };
}

}  // namespace

ClientFacts client_facts(const http::request_header<>& r, const Peer& peer, const Config& config) {
    ClientFacts c;
    c.address = effective_client_address(config, peer.address, forwarded_for(r));
    c.port = peer.port;
    c.useragent = repaired_utf8(header_text(r, http::field::user_agent));
    c.referer = repaired_utf8(header_text(r, http::field::referer));
    return c;
}

Response json_response(http::status status, const json::value& body, unsigned version, bool keep_alive) {
    return json_response(status, json::serialize(body), version, keep_alive);
}

Response json_response(http::status status, std::string body, unsigned version, bool keep_alive) {
    Response res{status, version};
    res.set(http::field::server, "Haineko");
    res.set(http::field::content_type, "application/json; charset=UTF-8");
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = std::move(body);
    // JSON's own syntax is ASCII, so invalid bytes can only sit inside strings (a relay's
    // reply, a provider's error): repairing the text repairs those strings.
    if (!is_valid_utf8(res.body())) res.body() = repaired_utf8(res.body());
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

Response error_response(http::status status, std::string_view group, std::string_view name, const ClientFacts& client,
                        unsigned version, bool keep_alive) {
    Submission s;
    s.started = std::chrono::system_clock::now();
    s.client = client;
    return json_response(status, session_json(s, false, {named_reply(group, name)}), version, keep_alive);
}

std::string too_many_connections_answer(const std::string& client_address, int client_port) {
    Submission s;
    s.started = std::chrono::system_clock::now();
    s.client.address = client_address;
    s.client.port = client_port;
    const std::string body = session_json(s, false, {named_reply("http", "too-many-connections")});
    return "HTTP/1.1 503 Service Unavailable\r\nServer: Haineko\r\nContent-Type: application/json; charset=UTF-8\r\n"
           "X-Content-Type-Options: nosniff\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

boost::asio::awaitable<Response> handle_request(const Request& r, const Peer& peer, std::shared_ptr<const Config> cfg,
                                                MailerSet& mailers, queue::QueueService* queue, MetricsScrape* metrics) {
    const Config& config = *cfg;
    const bool keep_alive = r.keep_alive();
    const std::string_view path = path_of(r.target());
    auto refuse = [&](http::status status, std::string_view group, std::string_view name) {
        return error_response(status, group, name, client_facts(r, peer, config), r.version(), keep_alive);
    };
    // GET / is the health check: it tells only the name and version, so it answers
    // without credentials.
    if (path == "/")
        co_return json_response(http::status::ok, json::object{{"name", "Haineko"}, {"version", HAINEKO_VERSION}},
                                r.version(), keep_alive);
    // /v1 answers in its own error shape, auth included.
    if (is_v1_path(path)) co_return co_await handle_v1(r, peer, config, queue);
    // Loopback scrapers need no credentials, as with /conf; others do (metrics.cpp).
    if (path == "/metrics") co_return co_await metrics_answer(r, peer, config, metrics);
    std::string user;
    // 1: Basic auth, when on, guards every other endpoint
    if (config.basic_auth) {
        auto who = basic_auth_user(config, header_text(r, http::field::authorization));
        if (!who) {
            Response res = refuse(http::status::unauthorized, "auth", "auth-required");
            res.set(http::field::www_authenticate, "Basic realm=\"Haineko\"");
            co_return res;
        }
        user = *who;
    }
    if (path == "/submit") co_return co_await submit(r, peer, config, mailers, user);
    if (path == "/conf") {
        std::string client = effective_client_address(config, peer.address, forwarded_for(r));
        if (!is_loopback(client)) co_return refuse(http::status::forbidden, "http", "forbidden");
        co_return json_response(http::status::ok, conf_json(config), r.version(), keep_alive);
    }
    if (path == "/sample/mail") {
        std::string client = effective_client_address(config, peer.address, forwarded_for(r));
        co_return json_response(http::status::ok, sample_mail(client), r.version(), keep_alive);
    }
    if (path == "/neko")
        co_return json_response(http::status::ok, json::object{{"name", "Haineko"}, {"neko", "Nyaaaaa"}}, r.version(),
                                keep_alive);
    co_return refuse(http::status::not_found, "http", "not-found");
}

}  // namespace haineko
