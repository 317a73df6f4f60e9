#include "config/queue_settings.hpp"

#include <boost/json/array.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cstdlib>
#include <array>

#include "config/reader.hpp"

namespace haineko {

namespace {

constexpr std::array<const char*, 8> kEventTypes{"accepted", "deferred", "delivered", "bounced",
                                                 "cancelled", "held",     "released",  "dsn-sent"};

// A section that is absent or empty reads as defaults; anything but a mapping is an error.
YAML::Node section(const YAML::Node& top, const char* name, const std::string& file) {
    if (!top.IsMap() || !top[name] || top[name].IsNull()) return YAML::Node();
    YAML::Node n = top[name];
    if (!n.IsMap() && !(std::string(name) == "webhooks" && n.IsSequence()))
        throw ConfigError(file, line_of(n), std::string(name) + (std::string(name) == "webhooks" ? " must be a list" : " must be a mapping"));
    return n;
}

bool is_postgres_url(const std::string& text) {
    auto url = boost::urls::parse_absolute_uri(text);
    return url && (url->scheme() == "postgresql" || url->scheme() == "postgres");
}

// HAINEKO_QUEUE_URL names a shared queue for nodes whose haineko.cf is the same file
// everywhere; it wins over queue.store.
void take_queue_url_from_environment(QueueSettings& q, const std::string& file) {
    const char* env = std::getenv("HAINEKO_QUEUE_URL");
    if (!env || !*env) return;
    if (!is_postgres_url(env))
        throw ConfigError(file, 0, "HAINEKO_QUEUE_URL must be a postgresql:// URL");
    q.store = "postgresql";
    q.url = env;
    q.url_source = "HAINEKO_QUEUE_URL";
}

void load_queue(Config& config, const YAML::Node& node, const std::string& file) {
    QueueSettings& q = config.queue;
    q.path = config.options.root + "/var/queue.db";
    if (!node.IsMap()) return take_queue_url_from_environment(q, file);
    Reader r(file, node);
    const std::string store = r.text("store", "sqlite");
    if (is_postgres_url(store)) {
        q.store = "postgresql";
        q.url = store;
        q.url_source = "queue.store";
    } else if (store != "sqlite") {
        r.fail(r.node("store"), "queue.store must be 'sqlite' or a postgresql://user:password@host:port/database URL");
    }
    take_queue_url_from_environment(q, file);
    const std::string path = r.text("path", "var/queue.db");
    if (path.empty()) r.fail(r.node("path"), "queue.path must not be empty");
    q.path = path[0] == '/' ? path : config.options.root + "/" + path;
    q.min_backoff = r.integer("min_backoff", 300, 1, 1LL << 31);
    q.max_backoff = r.integer("max_backoff", 4000, 1, 1LL << 31);
    q.max_lifetime = r.integer("max_lifetime", 432000, 0, 1LL << 31);
    q.bounce = r.flag("bounce", true);
    q.max_concurrency = static_cast<int>(r.integer("max_concurrency", 64, 1, 100000));
}

void load_v1(Config& config, const YAML::Node& node, const std::string& file) {
    if (!node.IsMap()) return;
    Reader r(file, node);
    config.v1.max_recipients = static_cast<int>(r.integer("max_recipients", 100, 1, 100000));
}

Webhook webhook_from(const YAML::Node& node, const std::string& file) {
    if (!node.IsMap()) throw ConfigError(file, line_of(node), "each webhook must be a mapping with url and secret");
    Reader r(file, node);
    Webhook w;
    w.origin = where(file, node);
    w.url = r.text("url", "");
    auto url = boost::urls::parse_absolute_uri(w.url);
    if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty())
        r.fail(r.has("url") ? r.node("url") : node, "webhook url must be an http:// or https:// URL: '" + w.url + "'");
    w.secret = r.text("secret", "");
    if (w.secret.empty()) r.fail(r.has("secret") ? r.node("secret") : node, "a webhook needs a secret to sign with");
    if (r.has("events")) {
        w.events = r.strings("events");
        for (const auto& e : w.events)
            if (!is_event_type(e)) r.fail(r.node("events"), "not an event type: '" + e + "'");
    }
    return w;
}

}  // namespace

bool is_event_type(const std::string& name) {
    return std::any_of(kEventTypes.begin(), kEventTypes.end(), [&](const char* t) { return name == t; });
}

void load_queue_settings(Config& config, const YAML::Node& top, const std::string& file) {
    load_queue(config, section(top, "queue", file), file);
    load_v1(config, section(top, "v1", file), file);
    const YAML::Node hooks = section(top, "webhooks", file);
    if (hooks.IsSequence())
        for (const auto& h : hooks) config.webhooks.push_back(webhook_from(h, file));
}

namespace {

// A password in a webhook's URL (https://user:pass@host/) is a secret too.
std::string url_for_conf(const std::string& text) {
    auto url = boost::urls::parse_absolute_uri(text);
    if (!url || !url->has_password()) return text;
    boost::urls::url masked(*url);
    masked.set_password("********");
    return std::string(masked.buffer());
}

}  // namespace

boost::json::object queue_conf_json(const Config& config) {
    const QueueSettings& q = config.queue;
    boost::json::object queue{{"store", q.store},           {"path", q.path}, {"url", url_for_conf(q.url)},
                              {"min_backoff", q.min_backoff}, {"max_backoff", q.max_backoff},
                              {"max_lifetime", q.max_lifetime}, {"bounce", q.bounce ? 1 : 0},
                              {"max_concurrency", q.max_concurrency}};
    boost::json::array webhooks;
    for (const auto& w : config.webhooks) {
        boost::json::object hook{{"url", url_for_conf(w.url)}, {"secret", w.secret.empty() ? "" : "********"}};
        if (!w.events.empty()) {
            boost::json::array events;
            for (const auto& e : w.events) events.emplace_back(e);
            hook["events"] = std::move(events);
        }
        webhooks.emplace_back(std::move(hook));
    }
    return {{"queue", std::move(queue)},
            {"v1", boost::json::object{{"max_recipients", config.v1.max_recipients}}},
            {"webhooks", std::move(webhooks)}};
}

}  // namespace haineko
