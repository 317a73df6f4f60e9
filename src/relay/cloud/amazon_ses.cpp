// Amazon SES v2 SendEmail with Content.Raw: the message Haineko built, base64 in JSON,
// signed with AWS Signature Version 4 (service "ses"). The route's `region` picks the
// endpoint (default us-east-1).
#include <boost/json.hpp>

#include "core/base64.hpp"
#include "relay/cloud/cloud.hpp"
#include "relay/cloud/sigv4.hpp"

namespace haineko::cloud {
namespace {

namespace json = boost::json;

std::string region_of(const Route& route) {
    std::string region = route_text(route, "region");
    return region.empty() ? "us-east-1" : region;
}

class AmazonSes final : public CloudApi {
public:
    std::string name() const override { return "AmazonSES"; }
    std::string default_base(const Route& route) const override {
        return "https://email." + region_of(route) + ".amazonaws.com";
    }
    std::string path(const Delivery&, const BaseUrl&) const override { return "/v2/email/outbound-emails"; }
    std::optional<std::string> missing(const Delivery& d) const override {
        if (auto why = CloudApi::missing(d)) return why;
        if (d.credential->username.empty())
            return "No access key id for AmazonSES: authinfo entry '" + d.route.auth + "' has no username";
        return std::nullopt;
    }
    http::request<http::string_body> build(const Delivery& d, const BaseUrl& base, const std::string& target) const override {
        json::object body{
            {"FromEmailAddress", d.submission.mail},
            {"Destination", json::object{{"ToAddresses", json::array{json::value(d.rcpt)}}}},
            {"Content", json::object{{"Raw", json::object{{"Data", base64_encode(d.message.for_recipient(d.rcpt))}}}}},
        };
        http::request<http::string_body> req{http::verb::post, target, 11};
        const bool default_port = (base.endpoint.tls && base.endpoint.port == 443) || (!base.endpoint.tls && base.endpoint.port == 80);
        const std::string host = default_port ? base.endpoint.host : base.endpoint.host + ":" + std::to_string(base.endpoint.port);
        const std::string amz_date = amz_date_now();
        req.set(http::field::host, host);
        req.set(http::field::content_type, "application/json");
        req.set("X-Amz-Date", amz_date);
        req.body() = json::serialize(body);
        SigV4Request to_sign{"POST", target, "", {{"Content-Type", "application/json"}, {"Host", host}, {"X-Amz-Date", amz_date}}, req.body()};
        auto sig = sign_v4(to_sign, d.credential->username, d.credential->password, region_of(d.route), "ses", amz_date);
        req.set(http::field::authorization, sig.authorization);
        return req;
    }
    std::string message_id(const https::Result& r) const override { return json_field(r.body, "MessageId"); }
};

}  // namespace

std::unique_ptr<CloudApi> make_amazon_ses() { return std::make_unique<AmazonSes>(); }

}  // namespace haineko::cloud
