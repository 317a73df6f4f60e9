#include "queue/webhooks.hpp"

#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/digest.hpp"
#include "queue/event_json.hpp"
#include "queue/scheduler.hpp"
#include "relay/https/client.hpp"

namespace haineko::queue {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;

constexpr int kMaxInFlight = 16;
constexpr Millis kLease = 120'000;  // a claimed delivery not settled by then is due again
constexpr Millis kGiveUpAfter = 24LL * 3600 * 1000;
constexpr auto kTimeout = std::chrono::seconds(10);
constexpr auto kIdleLook = std::chrono::seconds(1);

std::vector<WebhookTarget> targets_of(const Config& config) {
    std::vector<WebhookTarget> targets;
    for (const auto& w : config.webhooks) targets.push_back({w.url, w.events});
    return targets;
}

const Webhook* webhook_for(const Config& config, const std::string& url) {
    for (const auto& w : config.webhooks)
        if (w.url == url) return &w;
    return nullptr;
}

struct Target {
    https::Endpoint endpoint;
    std::string path;
};

std::optional<Target> target_of(const std::string& url, const Config& config) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) return std::nullopt;
    Target t;
    t.endpoint.tls = u->scheme() == "https";
    t.endpoint.host = std::string(u->host());
    t.endpoint.port = u->has_port() ? static_cast<int>(u->port_number()) : (t.endpoint.tls ? 443 : 80);
    t.endpoint.ca_file = config.smtpd.tls_ca_file;
    t.path = std::string(u->encoded_path());
    if (t.path.empty()) t.path = "/";
    if (u->has_query()) t.path += "?" + std::string(u->encoded_query());
    return t;
}

}  // namespace

std::string webhook_signature(const std::string& secret, long long unix_time, const std::string& body) {
    const std::string stamp = std::to_string(unix_time);
    return "t=" + stamp + ",v1=" + hex_of(hmac_sha256(secret, stamp + "." + body));
}

Millis webhook_backoff(int failures, double jitter) {
    Millis wait = 10'000;
    for (int i = 0; i < failures && wait < 3'600'000; ++i) wait *= 2;
    wait = std::min<Millis>(wait, 3'600'000);
    return static_cast<Millis>(static_cast<double>(wait) * (1.0 + std::clamp(jitter, -0.1, 0.1)));
}

WebhookSender::WebhookSender(asio::any_io_executor executor, Store& store, ConfigHolder& config, https::Client& client)
    : executor_(executor), store_(store), config_(config), client_(client), timer_(executor),
      random_(std::random_device{}()) {}

void WebhookSender::start() { asio::co_spawn(executor_, run(), asio::detached); }

void WebhookSender::wake() {
    asio::post(executor_, [this] { timer_.cancel(); });
}

void WebhookSender::stop() {
    stopping_ = true;
    timer_.cancel();
}

asio::awaitable<void> WebhookSender::run() {
    while (!stopping_) {
        bool busy = false;
        try {
            const auto config = config_.get();
            const Millis now = now_millis();
            const int looked = co_await store_.fan_out_webhooks(targets_of(*config), now, 1000);
            std::vector<WebhookJob> jobs;
            const int room = kMaxInFlight - static_cast<int>(in_flight_);
            if (!config->webhooks.empty() && room > 0) jobs = co_await store_.claim_webhooks(now, kLease, room);
            for (auto& job : jobs) {
                ++in_flight_;
                asio::co_spawn(executor_, send(std::move(job)), asio::detached);
            }
            busy = looked == 1000 || (room > 0 && static_cast<int>(jobs.size()) == room);
        } catch (const std::exception& e) {
            spdlog::error("webhooks: {}", e.what());
        }
        if (busy || stopping_) continue;
        timer_.expires_after(kIdleLook);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> WebhookSender::send(WebhookJob job) {
    const auto config = config_.get();
    std::optional<Millis> next;  // nullopt: done
    const Webhook* hook = webhook_for(*config, job.url);
    const auto target = target_of(job.url, *config);
    if (!hook || !target) {
        spdlog::warn("webhook {} is no longer configured; event {} not sent", job.url, job.event.seq);
    } else {
        json::object body = event_json(job.event, true);
        body["webhook_id"] = std::to_string(job.event.seq) + "-" + std::to_string(job.n);
        const std::string text = json::serialize(body);
        const long long stamp = now_millis() / 1000;
        https::http::request<https::http::string_body> req{https::http::verb::post, target->path, 11};
        req.set(https::http::field::content_type, "application/json");
        req.set(https::http::field::user_agent, "Haineko-Webhook");
        req.set("X-Haineko-Signature", webhook_signature(hook->secret, stamp, text));
        req.body() = text;
        const https::Result r = co_await client_.send(target->endpoint, std::move(req), kTimeout);
        const bool delivered = r.answered && r.status >= 200 && r.status <= 299;
        if (!delivered) {
            const Millis now = now_millis();
            std::uniform_real_distribution<double> jitter(-0.1, 0.1);
            const std::string why = r.answered ? "HTTP " + std::to_string(r.status) : r.error;
            if (now - job.event.at >= kGiveUpAfter) {
                spdlog::warn("webhook {}: event {} given up after 24 hours ({})", job.url, job.event.seq, why);
            } else {
                next = now + webhook_backoff(job.attempts, jitter(random_));
                spdlog::info("webhook {}: event {} not taken ({}); trying again", job.url, job.event.seq, why);
            }
        }
    }
    try {
        co_await store_.settle_webhook(job.n, next);
    } catch (const std::exception& e) {
        spdlog::error("webhooks: {}", e.what());  // the lease runs out and it is sent again
    }
    --in_flight_;
    if (in_flight_ + 1 == kMaxInFlight) wake();
}

}  // namespace haineko::queue
