#include "http/metrics.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>

#include "plugin/plugin_metrics.hpp"
#include "policy/access.hpp"
#include "queue/scheduler.hpp"
#include "queue/service.hpp"
#include "queue/store.hpp"
#include "loops/runtime.hpp"

namespace haineko {
namespace {

namespace asio = boost::asio;

// A scrape every few seconds from several Prometheus servers asks the store once.
constexpr auto kQueueCountsFresh = std::chrono::seconds(3);

struct LoopSnapshot {
    LoopMetrics metrics;
    std::map<std::string, smtp::HostSessions> sessions;
};

// Runs on the loop itself, the only thread that writes its counters.
asio::awaitable<LoopSnapshot> snapshot_of(Loop& loop) {
    co_return LoopSnapshot{loop.metrics, loop.mailers->smtp_sessions()};
}

std::string number(double v) { return fmt::format("{}", v); }

// One metric family: its HELP and TYPE lines, then its samples.
class Exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(std::string_view name, std::string_view labels, double value) {
        out_ += labels.empty() ? fmt::format("{} {}\n", name, number(value))
                               : fmt::format("{}{{{}}} {}\n", name, labels, number(value));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

std::string label(std::string_view name, std::string_view value) {
    return fmt::format("{}=\"{}\"", name, escaped_label(value));
}

void write_loop_counters(Exposition& e, const LoopMetrics& m) {
    e.family("haineko_http_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
    for (const auto& [key, n] : m.http_requests)
        e.sample("haineko_http_requests_total", label("endpoint", key.first) + "," + label("status", std::to_string(key.second)),
                 static_cast<double>(n));
    e.family("haineko_deliveries_total", "counter",
             "Queued recipients whose delivery attempt was settled, by mailer and result (delivered, deferred, bounced).");
    for (const auto& [key, n] : m.deliveries)
        e.sample("haineko_deliveries_total", label("mailer", key.first) + "," + label("result", key.second),
                 static_cast<double>(n));
    e.family("haineko_delivery_latency_seconds", "histogram", "Time from acceptance to delivery, for delivered recipients.");
    std::uint64_t cumulative = 0;
    const auto& h = m.delivery_latency;
    for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
        cumulative += h.below[i];
        e.sample("haineko_delivery_latency_seconds_bucket", label("le", number(Histogram::kBounds[i])),
                 static_cast<double>(cumulative));
    }
    e.sample("haineko_delivery_latency_seconds_bucket", label("le", "+Inf"), static_cast<double>(h.count));
    e.sample("haineko_delivery_latency_seconds_sum", "", h.sum);
    e.sample("haineko_delivery_latency_seconds_count", "", static_cast<double>(h.count));
    e.family("haineko_smtp_messages_total", "counter",
             "SMTP transactions at the end of data, by result (accepted, refused, deferred).");
    for (const auto& [result, n] : m.smtp_messages)
        e.sample("haineko_smtp_messages_total", label("result", result), static_cast<double>(n));
}

void write_sessions(Exposition& e, const std::map<std::string, smtp::HostSessions>& sessions) {
    e.family("haineko_smtp_pool_sessions_open", "gauge", "Relay SMTP sessions open, by host:port.");
    for (const auto& [host, n] : sessions)
        e.sample("haineko_smtp_pool_sessions_open", label("host", host), static_cast<double>(n.open));
    e.family("haineko_smtp_pool_sessions_idle", "gauge", "Relay SMTP sessions open and idle, by host:port.");
    for (const auto& [host, n] : sessions)
        e.sample("haineko_smtp_pool_sessions_idle", label("host", host), static_cast<double>(n.idle));
}

void write_queue(Exposition& e, const std::optional<queue::QueueCounts>& counts) {
    e.family("haineko_queue_store_up", "gauge", "1 when the queue's store answered this scrape (or a recent one).");
    e.sample("haineko_queue_store_up", "", counts ? 1 : 0);
    if (!counts) return;
    e.family("haineko_queue_recipients", "gauge", "Pending recipients in the queue, by status.");
    e.sample("haineko_queue_recipients", label("status", "queued"), static_cast<double>(counts->queued));
    e.sample("haineko_queue_recipients", label("status", "deferred"), static_cast<double>(counts->deferred));
    e.sample("haineko_queue_recipients", label("status", "held"), static_cast<double>(counts->held));
    e.family("haineko_queue_messages_pending", "gauge", "Messages with a recipient still pending.");
    e.sample("haineko_queue_messages_pending", "", static_cast<double>(counts->pending));
    e.family("haineko_queue_oldest_pending_age_seconds", "gauge", "Age of the oldest pending message (0 when none).");
    const auto now = queue::now_millis();
    e.sample("haineko_queue_oldest_pending_age_seconds", "",
             counts->oldest_at ? static_cast<double>(std::max<queue::Millis>(now - *counts->oldest_at, 0)) / 1000.0 : 0.0);
    e.family("haineko_webhook_backlog", "gauge", "Events waiting to be posted to a webhook.");
    e.sample("haineko_webhook_backlog", "", static_cast<double>(counts->webhook_backlog));
}

// utime and stime, fields 14 and 15 of /proc/self/stat (after the command in parentheses).
double process_cpu_seconds() {
    std::ifstream in("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double resident_bytes() {
    std::ifstream in("/proc/self/statm");
    double size = 0, resident = 0;
    in >> size >> resident;
    return resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

void write_process(Exposition& e, const std::string& node_id) {
    e.family("haineko_process_cpu_seconds_total", "counter", "User and system CPU time of the process.");
    e.sample("haineko_process_cpu_seconds_total", "", process_cpu_seconds());
    e.family("haineko_process_resident_memory_bytes", "gauge", "Resident set size of the process.");
    e.sample("haineko_process_resident_memory_bytes", "", resident_bytes());
    e.family("haineko_node_info", "gauge", "This node's id and version; always 1.");
    e.sample("haineko_node_info", label("node_id", node_id) + "," + label("version", HAINEKO_VERSION), 1);
}

Response text_response(std::string body, const Request& r) {
    Response res{http::status::ok, r.version()};
    res.set(http::field::server, "Haineko");
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = std::move(body);
    res.keep_alive(r.keep_alive());
    res.prepare_payload();
    return res;
}

}  // namespace

std::string endpoint_label(std::string_view path) {
    static const char* const fixed[] = {"/",          "/submit",  "/conf",      "/sample/mail",     "/neko",
                                        "/metrics",   "/v1",      "/v1/messages", "/v1/queue",      "/v1/queue/flush",
                                        "/v1/events", "/v1/openapi.json"};
    for (const char* f : fixed)
        if (path == f) return f;
    constexpr std::string_view messages = "/v1/messages/";
    if (path.starts_with(messages)) {
        const auto rest = path.substr(messages.size());
        const auto slash = rest.find('/');
        if (slash == std::string_view::npos) return "/v1/messages/{id}";
        const auto action = rest.substr(slash + 1);
        if (action == "retry" || action == "hold" || action == "release") return "/v1/messages/{id}/" + std::string(action);
    }
    return "other";
}

std::string escaped_label(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

asio::awaitable<std::optional<queue::QueueCounts>> MetricsScrape::queue_counts() {
    if (!queue_) co_return std::nullopt;
    {
        std::lock_guard lock(cache_mutex_);
        if (cached_ && std::chrono::steady_clock::now() - cached_at_ < kQueueCountsFresh) co_return cached_;
    }
    std::optional<queue::QueueCounts> counts;
    try {
        counts = co_await queue_->store().counts();
    } catch (const queue::StoreUnavailable&) {
    }
    std::lock_guard lock(cache_mutex_);
    cached_ = counts;
    cached_at_ = std::chrono::steady_clock::now();
    co_return counts;
}

asio::awaitable<std::string> MetricsScrape::text() {
    LoopMetrics total;
    std::map<std::string, smtp::HostSessions> sessions;
    for (auto& loop : runtime_.loops()) {
        const LoopSnapshot snap = co_await asio::co_spawn(loop->ctx, snapshot_of(*loop), asio::use_awaitable);
        total.add(snap.metrics);
        for (const auto& [host, n] : snap.sessions) {
            sessions[host].open += n.open;
            sessions[host].idle += n.idle;
        }
    }
    const auto counts = co_await queue_counts();
    Exposition e;
    write_loop_counters(e, total);
    write_sessions(e, sessions);
    write_queue(e, counts);
    write_process(e, runtime_.config().get()->node_id);
    co_return e.take() + plugin::PluginMetrics::get().render();
}

asio::awaitable<Response> metrics_answer(const Request& r, const Peer& peer, const Config& config,
                                         MetricsScrape* scrape) {
    const ClientFacts client = client_facts(r, peer, config);
    const bool keep_alive = r.keep_alive();
    if (!is_loopback(client.address)) {
        if (!config.basic_auth)
            co_return error_response(http::status::forbidden, "http", "forbidden", client, r.version(), keep_alive);
        auto it = r.find(http::field::authorization);
        if (!basic_auth_user(config, it == r.end() ? std::string_view() : std::string_view(it->value()))) {
            Response res = error_response(http::status::unauthorized, "auth", "auth-required", client, r.version(), keep_alive);
            res.set(http::field::www_authenticate, "Basic realm=\"Haineko\"");
            co_return res;
        }
    }
    if (r.method() != http::verb::get)
        co_return error_response(http::status::method_not_allowed, "http", "method-not-supported", client, r.version(),
                                 keep_alive);
    if (!scrape) co_return error_response(http::status::not_found, "http", "not-found", client, r.version(), keep_alive);
    std::string body = co_await scrape->text();
    co_return text_response(std::move(body), r);
}

}  // namespace haineko
