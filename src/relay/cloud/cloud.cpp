#include "relay/cloud/cloud.hpp"
#include "relay/retry.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace haineko::cloud {
namespace {

namespace json = boost::json;

Reply reply_of(int code, const std::string& dsn, std::vector<std::string> message) {
    Reply r;
    r.code = code;
    r.dsn = dsn;
    r.command = "POST";
    r.message = std::move(message);
    return r;
}

// The provider's own words: SendGrid's errors[].message, the others' message/Message.
std::string error_text(const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec && v.is_object()) {
        const auto& o = v.as_object();
        if (auto* errors = o.if_contains("errors"); errors && errors->is_array()) {
            std::string joined;
            for (const auto& e : errors->as_array())
                if (e.is_object())
                    if (auto* m = e.as_object().if_contains("message"); m && m->is_string())
                        joined += (joined.empty() ? "" : "; ") + std::string(m->as_string());
            if (!joined.empty()) return joined;
        }
        for (const char* key : {"message", "Message", "error", "name"})
            if (auto* m = o.if_contains(key); m && m->is_string()) return std::string(m->as_string());
    }
    std::string text = body.substr(0, 300);
    for (auto& c : text)
        if (c == '\r' || c == '\n') c = ' ';
    return text;
}

Reply map_answer(const https::Result& result, const CloudApi& api) {
    if (!result.answered)
        return reply_of(421, result.timed_out ? "4.4.2" : "4.4.1", {result.error});
    const int s = result.status;
    const std::string status = "HTTP " + std::to_string(s);
    if (s >= 200 && s < 300) {
        if (auto why = api.rejection(result)) return reply_of(550, "5.7.1", {status, *why});
        std::string id = api.message_id(result);
        return reply_of(250, "2.0.0", {id.empty() ? status + " accepted" : id});
    }
    if (s == 429 || s == 408) return reply_of(451, "4.7.1", {status, error_text(result.body)});
    if (s >= 500) return reply_of(451, "4.3.0", {status, error_text(result.body)});
    if (s == 401 || s == 403) return reply_of(535, "5.7.8", {status, error_text(result.body)});
    return reply_of(554, "5.0.0", {status, error_text(result.body)});
}

class CloudMailer final : public Mailer {
public:
    CloudMailer(https::Client& client, RetrySleeps& sleeps, std::unique_ptr<CloudApi> api)
        : client_(client), sleeps_(sleeps), api_(std::move(api)) {}

    bool answers_missing_credentials() const override { return true; }

    boost::asio::awaitable<Reply> deliver(const Delivery& d) override {
        std::string base_text = route_text(d.route, "endpoint");
        if (base_text.empty()) base_text = api_->default_base(d.route);
        auto base = parse_base_url(base_text);
        if (!base) co_return reply_of(554, "5.3.5", {"Route '" + d.route.key + "' has a bad endpoint: " + base_text});
        base->endpoint.verify = d.route.tls_verify;
        base->endpoint.ca_file = d.config.smtpd.tls_ca_file;
        Reply reply;
        if (auto why = api_->missing(d)) {
            reply = reply_of(530, "5.7.0", {*why});
        } else {
            const std::string target = base->path + api_->path(d, *base);
            reply = co_await with_retries(d.route, sleeps_, [&]() -> boost::asio::awaitable<Reply> {
                https::Result result = co_await client_.send(base->endpoint, api_->build(d, *base, target),
                                                             std::chrono::seconds(d.route.timeout));
                co_return map_answer(result, *api_);
            });
        }
        reply.host = base->endpoint.host;
        reply.port = base->endpoint.port;
        co_return reply;
    }

private:
    https::Client& client_;
    RetrySleeps& sleeps_;
    std::unique_ptr<CloudApi> api_;
};

}  // namespace

std::optional<BaseUrl> parse_base_url(const std::string& url) {
    BaseUrl out;
    std::string rest;
    if (url.rfind("https://", 0) == 0) {
        out.endpoint.tls = true;
        out.endpoint.port = 443;
        rest = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
        out.endpoint.tls = false;
        out.endpoint.port = 80;
        rest = url.substr(7);
    } else {
        return std::nullopt;
    }
    std::size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    out.path = slash == std::string::npos ? "" : rest.substr(slash);
    while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
    out.explicit_path = !out.path.empty();
    std::string host = authority, port_text;
    if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
        std::size_t close = authority.find(']');
        if (close == std::string::npos) return std::nullopt;
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') return std::nullopt;
            port_text = authority.substr(close + 2);
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
        host = authority.substr(0, colon);
        port_text = authority.substr(colon + 1);
    }
    if (!port_text.empty()) {
        int port = 0;
        auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || p != port_text.data() + port_text.size() || port <= 0 || port > 65535)
            return std::nullopt;
        out.endpoint.port = port;
    }
    if (host.empty()) return std::nullopt;
    out.endpoint.host = host;
    return out;
}

Mailbox parse_mailbox(const std::string& value) {
    Mailbox m;
    std::size_t lt = value.rfind('<'), gt = lt == std::string::npos ? lt : value.find('>', lt);
    if (gt == std::string::npos) {
        m.address = value;
    } else {
        m.address = value.substr(lt + 1, gt - lt - 1);
        m.name = value.substr(0, lt);
    }
    auto trim = [](std::string& s) {
        s.erase(0, s.find_first_not_of(" \t"));
        s.erase(s.find_last_not_of(" \t") + 1);
    };
    trim(m.name);
    trim(m.address);
    if (m.name.size() >= 2 && m.name.front() == '"' && m.name.back() == '"') m.name = m.name.substr(1, m.name.size() - 2);
    return m;
}

std::optional<std::string> CloudApi::missing(const Delivery& d) const {
    if (d.route.auth.empty()) return "Route '" + d.route.key + "' names no credentials (auth) for " + name();
    if (!d.credential || d.credential->password.empty())
        return "No credentials for " + name() + ": authinfo has no usable entry '" + d.route.auth + "'";
    return std::nullopt;
}

std::string route_text(const Route& route, const char* key) {
    if (auto* v = route.entry.if_contains(key)) {
        if (v->is_string()) return std::string(v->as_string());
        if (v->is_number()) return json::serialize(*v);
    }
    return {};
}

std::string json_field(const std::string& body, const char* key) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return {};
    const json::object* o = v.if_object();
    if (!o && v.is_array() && !v.as_array().empty()) o = v.as_array().front().if_object();
    if (!o) return {};
    if (auto* f = o->if_contains(key); f && f->is_string()) return std::string(f->as_string());
    return {};
}

std::unique_ptr<Mailer> make_cloud_mailer(https::Client& client, RetrySleeps& sleeps, std::unique_ptr<CloudApi> api) {
    return std::make_unique<CloudMailer>(client, sleeps, std::move(api));
}

}  // namespace haineko::cloud
