// Email clouds behind the mailer interface. Each cloud is one small CloudApi (its URL, its
// request, where its message id is); CloudMailer does the rest for all of them: checks the
// credentials before any request, sends over the loop's pooled HTTPS client, maps the
// answer to an SMTP-style reply, and retries 429 and 5xx per the route.
#pragma once
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>
#include <string>

#include "message/mime_reader.hpp"
#include "relay/https/client.hpp"
#include "relay/mailer.hpp"

namespace haineko::cloud {

namespace http = boost::beast::http;

// The API's base URL, from the route's `endpoint` or the cloud's default.
struct BaseUrl {
    https::Endpoint endpoint;
    std::string path;  // "" or "/api/1.0", never ending in "/"
    bool explicit_path = false;
};
std::optional<BaseUrl> parse_base_url(const std::string& url);

// "Name <addr>" split into its parts, the display name unquoted.
struct Mailbox {
    std::string name;
    std::string address;
};
Mailbox parse_mailbox(const std::string& header_value);

class CloudApi {
public:
    virtual ~CloudApi() = default;
    virtual std::string name() const = 0;
    virtual std::string default_base(const Route& route) const = 0;
    // The path after the base; base_is_default tells whether the route named its own base.
    virtual std::string path(const Delivery& d, const BaseUrl& base) const = 0;
    // A reason not to send at all (missing credentials or keys), else nullopt.
    virtual std::optional<std::string> missing(const Delivery& d) const;
    virtual http::request<http::string_body> build(const Delivery& d, const BaseUrl& base,
                                                   const std::string& target) const = 0;
    // The provider's id of the accepted message, for the reply's message.
    virtual std::string message_id(const https::Result& result) const = 0;
    // A 2xx answer that still refuses the recipient (Mandrill's "rejected"): the reason.
    virtual std::optional<std::string> rejection(const https::Result&) const { return std::nullopt; }
};

std::unique_ptr<Mailer> make_cloud_mailer(https::Client& client, RetrySleeps& sleeps, std::unique_ptr<CloudApi> api);

std::unique_ptr<CloudApi> make_sendgrid();
std::unique_ptr<CloudApi> make_amazon_ses();
std::unique_ptr<CloudApi> make_mandrill();
std::unique_ptr<CloudApi> make_postmark();
std::unique_ptr<CloudApi> make_mailgun();

// A route key as text ("" when absent).
std::string route_text(const Route& route, const char* key);
// A JSON field as text, for message ids.
std::string json_field(const std::string& body, const char* key);

}  // namespace haineko::cloud
