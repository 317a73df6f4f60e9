// Haineko: POSTs the submission to another Haineko's /submit (keep-alive; TLS when the
// route says ssl: 1), carrying X-Haineko-Loop so that loops stop, and maps the remote
// answer for this recipient back into this recipient's reply.
#include <boost/json.hpp>

#include "core/base64.hpp"
#include "message/mime_reader.hpp"
#include "relay/https/client.hpp"
#include "relay/mailer.hpp"
#include "relay/retry.hpp"

namespace haineko {
namespace {

namespace json = boost::json;

// /submit takes plain text only: a queued message sends its text part (else its HTML as
// it is); its attachments cannot go this way.
std::string body_for(const Delivery& d) {
    if (!d.message.own_to) return d.submission.body;
    const ReadMessage m = content_of(d.submission, d.message);
    return m.content.text ? *m.content.text : m.content.html.value_or("");
}

json::object submission_for(const Delivery& d) {
    const Submission& s = d.submission;
    json::object header{{"subject", s.header.subject}, {"charset", s.header.charset}};
    if (!s.header.from.empty()) header["from"] = s.header.from;
    if (!s.header.replyto.empty()) header["replyto"] = s.header.replyto;
    json::array loop;
    for (const auto& hop : s.header.loop) loop.emplace_back(hop);
    header["x-haineko-loop"] = std::move(loop);
    if (!s.header.received.empty()) {  // carried through, as they came to us
        json::array received;
        for (const auto& r : s.header.received) received.emplace_back(r);
        header["received"] = std::move(received);
    }
    return json::object{{"ehlo", d.config.smtpd.helo_name},
                        {"mail", s.mail},
                        {"rcpt", json::array{json::value(d.rcpt)}},
                        {"header", std::move(header)},
                        {"body", body_for(d)}};
}

std::string text_of(const json::value* v) {
    if (!v || v->is_null()) return {};
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_number()) return json::serialize(*v);
    return {};
}

// The remote entry for our recipient (or its only entry) as our reply.
Reply reply_from_answer(const std::string& body, const std::string& rcpt, int http_status) {
    Reply r;
    r.command = "DATA";
    boost::system::error_code ec;
    json::value answer = json::parse(body, ec);
    const json::array* responses = nullptr;
    if (!ec && answer.is_object())
        if (auto* v = answer.as_object().if_contains("response"); v && v->is_array()) responses = &v->as_array();
    if (!responses || responses->empty()) {
        r.code = http_status >= 500 ? 451 : 554;
        r.dsn = http_status >= 500 ? "4.3.0" : "5.3.0";
        r.message = {"Unexpected answer from the remote Haineko (HTTP " + std::to_string(http_status) + ")"};
        return r;
    }
    const json::object* chosen = nullptr;
    for (const auto& item : *responses)
        if (item.is_object() && text_of(item.as_object().if_contains("rcpt")) == rcpt) chosen = &item.as_object();
    if (!chosen && responses->front().is_object()) chosen = &responses->front().as_object();
    if (!chosen) {
        r.code = 554;
        r.message = {"Unexpected answer from the remote Haineko"};
        return r;
    }
    std::string code = text_of(chosen->if_contains("code"));
    r.code = code.empty() ? 0 : std::atoi(code.c_str());
    r.code_is_text = chosen->if_contains("code") && chosen->at("code").is_string();
    std::string dsn = text_of(chosen->if_contains("dsn"));
    if (!dsn.empty()) r.dsn = dsn;
    std::string command = text_of(chosen->if_contains("command"));
    if (!command.empty()) r.command = command;
    if (auto* m = chosen->if_contains("message"); m && m->is_array())
        for (const auto& line : m->as_array()) r.message.push_back(text_of(&line));
    if (r.code == 0) r.code = http_status == 200 ? 250 : 554;
    return r;
}

class HainekoMailer final : public Mailer {
public:
    HainekoMailer(https::Client& client, RetrySleeps& sleeps) : client_(client), sleeps_(sleeps) {}

    boost::asio::awaitable<Reply> deliver(const Delivery& d) override {
        https::Endpoint endpoint{d.route.host, d.route.port, d.route.ssl, d.route.tls_verify, d.config.smtpd.tls_ca_file};
        Reply reply = co_await with_retries(d.route, sleeps_, [&]() { return once(d, endpoint); });
        reply.host = d.route.host;
        reply.port = d.route.port;
        co_return reply;
    }

private:
    boost::asio::awaitable<Reply> once(const Delivery& d, const https::Endpoint& endpoint) {
        https::http::request<https::http::string_body> req{https::http::verb::post, "/submit", 11};
        req.set(https::http::field::content_type, "application/json");
        req.set(https::http::field::user_agent, std::string("Haineko/") + HAINEKO_VERSION);
        if (d.credential) {  // the remote Haineko's Basic auth
            req.set(https::http::field::authorization,
                    "Basic " + basic_token(d.credential->username, d.credential->password));
        }
        req.body() = json::serialize(submission_for(d));
        https::Result result = co_await client_.send(endpoint, std::move(req), std::chrono::seconds(d.route.timeout));
        if (!result.answered) {
            Reply r = named_reply("conn", "cannot-connect");
            r.message.push_back(result.error);
            co_return r;
        }
        co_return reply_from_answer(result.body, d.rcpt, result.status);
    }

    static std::string basic_token(const std::string& user, const std::string& password) {
        return base64_encode(user + ":" + password);
    }

    https::Client& client_;
    RetrySleeps& sleeps_;
};

}  // namespace

std::unique_ptr<Mailer> make_haineko_mailer(https::Client& client, RetrySleeps& sleeps) {
    return std::make_unique<HainekoMailer>(client, sleeps);
}

}  // namespace haineko
