// SendGrid v3 mail/send: JSON with a Bearer API key; 202 with X-Message-Id.
#include <boost/json.hpp>

#include "core/base64.hpp"
#include "relay/cloud/cloud.hpp"

namespace haineko::cloud {
namespace {

namespace json = boost::json;

json::object address_json(const Mailbox& m) {
    json::object o{{"email", m.address}};
    if (!m.name.empty()) o["name"] = m.name;
    return o;
}

// text/plain first, as the API requires; a message with neither part sends an empty text.
json::array content_json(const MimeContent& c) {
    json::array out;
    if (c.text || !c.html) out.emplace_back(json::object{{"type", "text/plain"}, {"value", c.text.value_or("")}});
    if (c.html) out.emplace_back(json::object{{"type", "text/html"}, {"value", *c.html}});
    return out;
}

json::array attachments_json(const MimeContent& c) {
    json::array out;
    for (const auto& a : c.attachments) {
        json::object o{{"content", base64_encode(a.content)},
                       {"filename", a.filename.empty() ? "attachment" : a.filename},
                       {"type", a.content_type},
                       {"disposition", a.content_id.empty() ? "attachment" : "inline"}};
        if (!a.content_id.empty()) o["content_id"] = a.content_id;
        out.emplace_back(std::move(o));
    }
    return out;
}

class SendGrid final : public CloudApi {
public:
    std::string name() const override { return "SendGrid"; }
    std::string default_base(const Route&) const override { return "https://api.sendgrid.com"; }
    std::string path(const Delivery&, const BaseUrl& base) const override {
        return base.explicit_path ? "/mail/send" : "/v3/mail/send";
    }
    http::request<http::string_body> build(const Delivery& d, const BaseUrl&, const std::string& target) const override {
        const Submission& s = d.submission;
        json::object body;
        body["personalizations"] = json::array{json::object{{"to", json::array{json::object{{"email", d.rcpt}}}}}};
        body["from"] = address_json(parse_mailbox(s.header.from.empty() ? s.mail : s.header.from));
        const ReadMessage m = content_of(d.submission, d.message);
        if (!m.reply_to.empty()) body["reply_to"] = address_json(parse_mailbox(m.reply_to));
        body["subject"] = s.header.subject;
        body["content"] = content_json(m.content);
        if (!m.content.attachments.empty()) body["attachments"] = attachments_json(m.content);
        json::object headers;
        for (const auto& [k, v] : trace_headers(d.submission)) headers[k] = v;
        body["headers"] = std::move(headers);
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::authorization, "Bearer " + d.credential->password);
        req.set(http::field::content_type, "application/json");
        req.body() = json::serialize(body);
        return req;
    }
    std::string message_id(const https::Result& r) const override {
        auto it = r.headers.find("X-Message-Id");
        return it == r.headers.end() ? std::string() : std::string(it->value());
    }
};

}  // namespace

std::unique_ptr<CloudApi> make_sendgrid() { return std::make_unique<SendGrid>(); }

}  // namespace haineko::cloud
