#include "http/handlers.hpp"

#include <spdlog/spdlog.h>

#include "core/queueid.hpp"
#include "http/answer.hpp"
#include "message/builder.hpp"
#include "policy/access.hpp"
#include "policy/submit_checks.hpp"
#include "relay/dispatch.hpp"

namespace haineko {
namespace {

namespace json = boost::json;

std::string header_text(const Request& r, http::field f) {
    auto it = r.find(f);
    return it == r.end() ? std::string() : std::string(it->value());
}

// Every X-Forwarded-For line, in order, as one list: a proxy appends its own line after
// any the client sent, so reading only the first would believe the client.
std::string forwarded_for(const Request& r) {
    std::string joined;
    auto [first, last] = r.equal_range("X-Forwarded-For");
    for (auto it = first; it != last; ++it) {
        if (!joined.empty()) joined += ',';
        joined += std::string(it->value());
    }
    return joined;
}

// Client-supplied text in a log line: control characters escaped, so that nothing a
// client sends can start a line of its own in the log.
std::string loggable(std::string_view s) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
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

std::string path_of(std::string_view target) {
    auto q = target.find('?');
    std::string path(target.substr(0, q));
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

Submission start_submission(const Request& r, const Peer& peer, const Config& config, const std::string& user) {
    Submission s;
    s.started = std::chrono::system_clock::now();
    s.queueid = make_queueid(s.started);
    s.client.address = effective_client_address(config, peer.address, forwarded_for(r));
    s.client.port = peer.port;
    s.client.useragent = header_text(r, http::field::user_agent);
    s.client.referer = header_text(r, http::field::referer);
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
        std::string value = eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
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

void log_submission(const Submission& s, int status, const std::vector<Reply>& replies) {
    std::string to, results;
    for (const auto& r : s.rcpt) to += (to.empty() ? "" : ",") + r;
    for (const auto& r : replies) {
        results += " [";
        results += r.rcpt.value_or("-") + " " + std::to_string(r.code) + " " + r.dsn.value_or("-") + " " + r.command;
        if (r.mailer) results += " mailer=" + *r.mailer;
        if (!r.message.empty()) results += " \"" + r.message.back() + "\"";
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
    // 3: relayhosts
    if (!relay_permitted(config, base.client.address, !user.empty()))
        co_return answer(403, base, {named_reply("auth", "access-denied")});

    CheckOutcome checked = is_get ? check_submission_json(config, request_from_query(r.target()), std::move(base))
                                  : check_submission_text(config, r.body(), std::move(base));
    if (!checked.ready_to_relay()) co_return answer(checked.http_status, checked.submission, checked.replies);

    BuiltMessage message = build_message(checked.submission, config);
    std::vector<Reply> relayed = co_await relay_submission(checked.submission, message, config, mailers);
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
                     {"body", "\xE3\x83\xA1\xE3\x83\xBC\xE3\x83\xAB\xE3\x81\xAE\xE6\x9C\xAC\xE6\x96\x87"}},
    };
}

}  // namespace

Response json_response(http::status status, const json::value& body, unsigned version, bool keep_alive) {
    Response res{status, version};
    res.set(http::field::server, "Haineko");
    res.set(http::field::content_type, "application/json; charset=UTF-8");
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = json::serialize(body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

Response error_response(http::status status, std::string_view group, std::string_view name, const Peer& peer,
                        unsigned version, bool keep_alive) {
    Submission s;
    s.started = std::chrono::system_clock::now();
    s.client.address = peer.address;
    s.client.port = peer.port;
    return json_response(status, session_json(s, false, {named_reply(group, name)}), version, keep_alive);
}

boost::asio::awaitable<Response> handle_request(const Request& r, const Peer& peer, std::shared_ptr<const Config> cfg,
                                                MailerSet& mailers) {
    const Config& config = *cfg;
    const bool keep_alive = r.keep_alive();
    std::string user;
    // 1: Basic auth, when on, guards every endpoint
    if (config.basic_auth) {
        auto who = basic_auth_user(config, header_text(r, http::field::authorization));
        if (!who) {
            Response res = error_response(http::status::unauthorized, "auth", "auth-required", peer, r.version(), keep_alive);
            res.set(http::field::www_authenticate, "Basic realm=\"Haineko\"");
            co_return res;
        }
        user = *who;
    }
    const std::string path = path_of(r.target());
    if (path == "/submit") co_return co_await submit(r, peer, config, mailers, user);
    if (path == "/" || path.empty())
        co_return json_response(http::status::ok, json::object{{"name", "Haineko"}, {"version", HAINEKO_VERSION}},
                                r.version(), keep_alive);
    if (path == "/conf") {
        std::string client = effective_client_address(config, peer.address, forwarded_for(r));
        if (!is_loopback(client))
            co_return error_response(http::status::forbidden, "http", "forbidden", peer, r.version(), keep_alive);
        co_return json_response(http::status::ok, conf_json(config), r.version(), keep_alive);
    }
    if (path == "/sample/mail") {
        std::string client = effective_client_address(config, peer.address, forwarded_for(r));
        co_return json_response(http::status::ok, sample_mail(client), r.version(), keep_alive);
    }
    if (path == "/neko")
        co_return json_response(http::status::ok, json::object{{"name", "Haineko"}, {"neko", "Nyaaaaa"}}, r.version(),
                                keep_alive);
    co_return error_response(http::status::not_found, "http", "not-found", peer, r.version(), keep_alive);
}

}  // namespace haineko
