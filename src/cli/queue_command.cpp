#include "cli/queue_command.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>

#include "cli/http_call.hpp"

namespace haineko {

namespace {

namespace json = boost::json;

constexpr int kServerError = 1;
constexpr int kNotRunning = 3;

std::string text(const json::value* v) {
    if (!v || v->is_null()) return "-";
    if (v->is_string()) return std::string(v->get_string());
    return json::serialize(*v);
}

std::string cut(std::string s, std::size_t width) {
    if (s.size() > width) s = s.substr(0, width - 1) + "~";
    return s;
}

void print_list(const json::object& page) {
    std::printf("%-18s %-10s %-20s %-28s %5s  %s\n", "ID", "STATUS", "CREATED", "FROM", "RCPTS", "SUBJECT");
    for (const auto& m : page.at("messages").as_array()) {
        const auto& o = m.as_object();
        std::printf("%-18s %-10s %-20s %-28s %5zu  %s\n", text(o.if_contains("id")).c_str(),
                    text(o.if_contains("status")).c_str(), text(o.if_contains("created_at")).c_str(),
                    cut(text(o.if_contains("from")), 28).c_str(), o.at("recipients").as_array().size(),
                    cut(text(o.if_contains("subject")), 40).c_str());
    }
    if (const auto* next = page.if_contains("next"); next && !next->is_null())
        std::printf("(more: the API's next cursor is %s)\n", text(next).c_str());
}

void print_message(const json::object& m) {
    for (const char* key : {"id", "status", "message_id", "created_at", "send_at", "from", "mail", "subject", "size"})
        std::printf("%-11s %s\n", key, text(m.if_contains(key)).c_str());
    std::printf("\n%-32s %-10s %8s  %-20s %s\n", "RECIPIENT", "STATUS", "ATTEMPTS", "NEXT ATTEMPT", "LAST REPLY");
    for (const auto& r : m.at("recipients").as_array()) {
        const auto& o = r.as_object();
        std::string reply = "-";
        if (const auto* last = o.if_contains("last_reply"); last && last->is_object()) {
            const auto& l = last->as_object();
            reply = text(l.if_contains("code")) + " " + text(l.if_contains("dsn"));
            if (const auto* lines = l.if_contains("message"); lines && lines->is_array() && !lines->as_array().empty())
                reply += " " + text(&lines->as_array().back());
        }
        std::printf("%-32s %-10s %8s  %-20s %s\n", cut(text(o.if_contains("rcpt")), 32).c_str(),
                    text(o.if_contains("status")).c_str(), text(o.if_contains("attempts")).c_str(),
                    text(o.if_contains("next_attempt_at")).c_str(), cut(reply, 60).c_str());
    }
    if (const auto* events = m.if_contains("events"); events && events->is_array()) {
        std::printf("\nEVENTS\n");
        for (const auto& e : events->as_array()) {
            const auto& o = e.as_object();
            std::printf("%6s %-20s %-10s %s\n", text(o.if_contains("seq")).c_str(), text(o.if_contains("at")).c_str(),
                        text(o.if_contains("type")).c_str(), o.contains("rcpt") ? text(o.if_contains("rcpt")).c_str() : "");
        }
    }
}

void print_stats(const json::object& q) {
    const auto& by = q.at("by_status").as_object();
    std::printf("pending messages %s (oldest %s)\n", text(q.if_contains("pending")).c_str(),
                text(q.if_contains("oldest_at")).c_str());
    std::printf("recipients: queued %s, deferred %s, held %s\n", text(by.if_contains("queued")).c_str(),
                text(by.if_contains("deferred")).c_str(), text(by.if_contains("held")).c_str());
    std::printf("\n%-10s %-32s %8s  %s\n", "MAILER", "HOST", "PENDING", "OLDEST");
    for (const auto& r : q.at("by_route").as_array()) {
        const auto& o = r.as_object();
        std::printf("%-10s %-32s %8s  %s\n", text(o.if_contains("mailer")).c_str(),
                    cut(text(o.if_contains("host")), 32).c_str(), text(o.if_contains("pending")).c_str(),
                    text(o.if_contains("oldest_at")).c_str());
    }
}

struct Call {
    const char* method;
    std::string target;
};

Call call_for(const QueueCommand& q) {
    if (*q.list) return {"GET", "/v1/messages?limit=1000" + (q.status.empty() ? std::string() : "&status=" + q.status)};
    if (*q.show) return {"GET", "/v1/messages/" + q.id};
    if (*q.flush) return q.id.empty() ? Call{"POST", "/v1/queue/flush"} : Call{"POST", "/v1/messages/" + q.id + "/retry"};
    if (*q.hold) return {"POST", "/v1/messages/" + q.id + "/hold"};
    if (*q.release) return {"POST", "/v1/messages/" + q.id + "/release"};
    if (*q.remove) return {"DELETE", "/v1/messages/" + q.id};
    return {"GET", "/v1/queue"};
}

void print_answer(const QueueCommand& q, const json::object& o) {
    if (*q.list) return print_list(o);
    if (*q.stats) return print_stats(o);
    if (*q.flush && q.id.empty()) {
        std::printf("%s deferred recipient(s) are due now\n", text(o.if_contains("flushed")).c_str());
        return;
    }
    print_message(o);
}

}  // namespace

void add_queue_command(CLI::App& app, QueueCommand& q) {
    q.app = app.add_subcommand("queue", "see and act on the queue of the running server (list, show, flush, ...)");
    q.app->require_subcommand(1, 1);
    q.app->add_option("-o,--host", q.host, "the server's address (default 127.0.0.1)");
    q.app->add_option("-p,--port", q.port, "the server's port (default 2794)")->check(CLI::Range(1, 65535));
    q.app->add_option("--auth", q.credentials, "USER:PASSWORD when the server requires Basic auth "
                                                "(default $HAINEKO_CREDENTIALS)");
    q.app->add_flag("--json", q.json, "print the API's JSON instead of a table");
    q.list = q.app->add_subcommand("list", "messages, newest first");
    q.list->add_option("--status", q.status, "pending, delivered, bounced, cancelled or partial")
        ->check(CLI::IsMember({"pending", "delivered", "bounced", "cancelled", "partial"}));
    q.show = q.app->add_subcommand("show", "one message: recipients, replies and events");
    q.flush = q.app->add_subcommand("flush", "try deferred mail now: every message, or one");
    q.hold = q.app->add_subcommand("hold", "hold a message's pending recipients");
    q.release = q.app->add_subcommand("release", "release a held message");
    q.remove = q.app->add_subcommand("delete", "cancel a message's pending recipients");
    q.stats = q.app->add_subcommand("stats", "counts by state and by route");
    for (auto* cmd : {q.show, q.hold, q.release, q.remove}) cmd->add_option("id", q.id, "the message's id")->required();
    q.flush->add_option("id", q.id, "the message's id (all deferred mail when absent)");
    // -o, -p, --auth and --json may come after the command too: `queue stats -p 2795`.
    for (auto* cmd : {q.list, q.show, q.flush, q.hold, q.release, q.remove, q.stats}) cmd->fallthrough();
}

int run_queue_command(const QueueCommand& q) {
    std::string credentials = q.credentials;
    if (credentials.empty())
        if (const char* env = std::getenv("HAINEKO_CREDENTIALS")) credentials = env;
    const Call call = call_for(q);
    auto answer = http_call(q.host, q.port, call.method, call.target, call.method == std::string("POST") ? "{}" : "",
                            credentials);
    if (!answer) {
        std::fprintf(stderr, "hainekoctl: no server answers on %s:%d\n", q.host.c_str(), q.port);
        return kNotRunning;
    }
    json::error_code ec;
    json::value v = json::parse(answer->body, ec);
    if (answer->status >= 400 || ec || !v.is_object()) {
        std::string why = answer->body;
        if (!ec && v.is_object())
            if (const auto* err = v.as_object().if_contains("error"); err && err->is_object())
                why = text(err->as_object().if_contains("code")) + ": " + text(err->as_object().if_contains("message"));
        if (q.json) std::printf("%s\n", answer->body.c_str());
        std::fprintf(stderr, "hainekoctl: the server answered %d: %s\n", answer->status, why.c_str());
        return kServerError;
    }
    if (q.json) {
        std::printf("%s\n", answer->body.c_str());
        return 0;
    }
    print_answer(q, v.as_object());
    return 0;
}

}  // namespace haineko
