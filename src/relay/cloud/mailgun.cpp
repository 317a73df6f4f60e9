// Mailgun messages.mime: the message Haineko built as a multipart/form-data upload, with
// Basic auth "api:KEY". The sending domain is the route's `domain` key.
#include <random>

#include "core/base64.hpp"
#include "relay/cloud/cloud.hpp"

namespace haineko::cloud {
namespace {

class Mailgun final : public CloudApi {
public:
    std::string name() const override { return "Mailgun"; }
    std::string default_base(const Route&) const override { return "https://api.mailgun.net/v3"; }
    std::string path(const Delivery& d, const BaseUrl& base) const override {
        return std::string(base.explicit_path ? "" : "/v3") + "/" + route_text(d.route, "domain") + "/messages.mime";
    }
    std::optional<std::string> missing(const Delivery& d) const override {
        if (auto why = CloudApi::missing(d)) return why;
        if (route_text(d.route, "domain").empty()) return "Route '" + d.route.key + "' names no sending domain for Mailgun";
        return std::nullopt;
    }
    http::request<http::string_body> build(const Delivery& d, const BaseUrl&, const std::string& target) const override {
        thread_local std::mt19937_64 rng{std::random_device{}()};
        const std::string boundary = "haineko-" + std::to_string(rng());
        std::string body;
        body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n" + d.rcpt + "\r\n";
        body += "--" + boundary +
                "\r\nContent-Disposition: form-data; name=\"message\"; filename=\"message.mime\"\r\n"
                "Content-Type: message/rfc822\r\n\r\n";
        body += d.message.for_recipient(d.rcpt);
        body += "\r\n--" + boundary + "--\r\n";
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::authorization, "Basic " + base64_encode("api:" + d.credential->password));
        req.set(http::field::content_type, "multipart/form-data; boundary=" + boundary);
        req.body() = std::move(body);
        return req;
    }
    std::string message_id(const https::Result& r) const override { return json_field(r.body, "id"); }
};

}  // namespace

std::unique_ptr<CloudApi> make_mailgun() { return std::make_unique<Mailgun>(); }

}  // namespace haineko::cloud
