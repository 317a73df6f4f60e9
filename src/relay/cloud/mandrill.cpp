// Mailchimp Transactional (Mandrill) messages/send.json: the API key in the body.
// A 200 whose recipient status is "rejected" or "invalid" is a permanent failure.
#include <boost/json.hpp>

#include "core/base64.hpp"
#include "relay/cloud/cloud.hpp"

namespace haineko::cloud {
namespace {

namespace json = boost::json;

// Inline parts (with a Content-ID) are "images", named by that id; the others attachments.
void add_files(json::object& message, const MimeContent& c) {
    json::array attachments, images;
    for (const auto& a : c.attachments) {
        json::object o{{"type", a.content_type}, {"content", base64_encode(a.content)}};
        o["name"] = a.content_id.empty() ? (a.filename.empty() ? "attachment" : a.filename) : a.content_id;
        (a.content_id.empty() ? attachments : images).emplace_back(std::move(o));
    }
    if (!attachments.empty()) message["attachments"] = std::move(attachments);
    if (!images.empty()) message["images"] = std::move(images);
}

class Mandrill final : public CloudApi {
public:
    std::string name() const override { return "Mandrill"; }
    std::string default_base(const Route&) const override { return "https://mandrillapp.com/api/1.0"; }
    std::string path(const Delivery&, const BaseUrl& base) const override {
        return base.explicit_path ? "/messages/send.json" : "/api/1.0/messages/send.json";
    }
    http::request<http::string_body> build(const Delivery& d, const BaseUrl&, const std::string& target) const override {
        const Submission& s = d.submission;
        Mailbox from = parse_mailbox(s.header.from.empty() ? s.mail : s.header.from);
        const ReadMessage m = content_of(d.submission, d.message);
        json::object headers;
        if (!m.reply_to.empty()) headers["Reply-To"] = m.reply_to;
        for (const auto& [k, v] : trace_headers(d.submission)) headers[k] = v;
        json::object message{{"text", m.content.text.value_or("")},
                             {"subject", s.header.subject},
                             {"from_email", from.address},
                             {"to", json::array{json::object{{"email", d.rcpt}, {"type", "to"}}}},
                             {"headers", std::move(headers)}};
        if (!from.name.empty()) message["from_name"] = from.name;
        if (m.content.html) message["html"] = *m.content.html;
        add_files(message, m.content);
        json::object body{{"key", d.credential->password}, {"message", std::move(message)}};
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::content_type, "application/json");
        req.body() = json::serialize(body);
        return req;
    }
    std::string message_id(const https::Result& r) const override { return json_field(r.body, "_id"); }
    std::optional<std::string> rejection(const https::Result& r) const override {
        std::string status = json_field(r.body, "status");
        if (status != "rejected" && status != "invalid") return std::nullopt;
        std::string reason = json_field(r.body, "reject_reason");
        return "Mandrill: " + status + (reason.empty() ? "" : " (" + reason + ")");
    }
};

}  // namespace

std::unique_ptr<CloudApi> make_mandrill() { return std::make_unique<Mandrill>(); }

}  // namespace haineko::cloud
