// Postmark /email: JSON with the server token in X-Postmark-Server-Token.
#include <boost/json.hpp>

#include "core/base64.hpp"
#include "relay/cloud/cloud.hpp"

namespace haineko::cloud {
namespace {

namespace json = boost::json;

json::array attachments_json(const MimeContent& c) {
    json::array out;
    for (const auto& a : c.attachments) {
        json::object o{{"Name", a.filename.empty() ? "attachment" : a.filename},
                       {"Content", base64_encode(a.content)},
                       {"ContentType", a.content_type}};
        if (!a.content_id.empty()) o["ContentID"] = "cid:" + a.content_id;
        out.emplace_back(std::move(o));
    }
    return out;
}

class Postmark final : public CloudApi {
public:
    std::string name() const override { return "Postmark"; }
    std::string default_base(const Route&) const override { return "https://api.postmarkapp.com"; }
    std::string path(const Delivery&, const BaseUrl&) const override { return "/email"; }
    http::request<http::string_body> build(const Delivery& d, const BaseUrl&, const std::string& target) const override {
        const Submission& s = d.submission;
        json::array headers;
        for (const auto& [k, v] : trace_headers(d.submission)) headers.emplace_back(json::object{{"Name", k}, {"Value", v}});
        const ReadMessage m = content_of(d.submission, d.message);
        json::object body{{"From", s.header.from.empty() ? s.mail : s.header.from},
                          {"To", d.rcpt},
                          {"Subject", s.header.subject},
                          {"Headers", std::move(headers)},
                          {"MessageStream", "outbound"}};
        if (m.content.text || !m.content.html) body["TextBody"] = m.content.text.value_or("");
        if (m.content.html) body["HtmlBody"] = *m.content.html;
        if (!m.content.attachments.empty()) body["Attachments"] = attachments_json(m.content);
        if (!m.reply_to.empty()) body["ReplyTo"] = m.reply_to;
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set("X-Postmark-Server-Token", d.credential->password);
        req.set(http::field::accept, "application/json");
        req.set(http::field::content_type, "application/json");
        req.body() = json::serialize(body);
        return req;
    }
    std::string message_id(const https::Result& r) const override { return json_field(r.body, "MessageID"); }
};

}  // namespace

std::unique_ptr<CloudApi> make_postmark() { return std::make_unique<Postmark>(); }

}  // namespace haineko::cloud
