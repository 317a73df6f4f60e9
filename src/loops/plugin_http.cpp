// haineko.http on the loop's HTTPS client (the one the clouds use): the URL read with
// Boost.URL, the request made with Beast, certificates verified.
#include <boost/url.hpp>

#include "relay/https/client.hpp"
#include "loops/plugin_dns.hpp"

namespace haineko {

namespace {

namespace http = boost::beast::http;

class ClientHttp : public plugin::Http {
public:
    explicit ClientHttp(https::Client& client) : client_(client) {}

    boost::asio::awaitable<plugin::HttpAnswer> request(plugin::HttpCall call) override {
        plugin::HttpAnswer out;
        auto url = boost::urls::parse_absolute_uri(call.url);
        const std::string scheme = url ? std::string(url->scheme()) : "";
        if (!url || (scheme != "http" && scheme != "https") || url->host().empty()) {
            out.error = "the url is not an http or https URL";
            co_return out;
        }
        https::Endpoint endpoint;
        endpoint.host = url->host_address();
        endpoint.tls = scheme == "https";
        endpoint.port = url->has_port() ? url->port_number() : endpoint.tls ? 443 : 80;
        const auto verb = http::string_to_verb(call.method);
        if (verb == http::verb::unknown) {
            out.error = "unknown method " + call.method;
            co_return out;
        }
        std::string target(url->encoded_target());
        if (target.empty()) target = "/";
        http::request<http::string_body> req{verb, target, 11};
        for (const auto& [k, v] : call.headers) req.set(k, v);
        if (!call.body.empty() || verb == http::verb::post || verb == http::verb::put) req.body() = std::move(call.body);
        const https::Result r = co_await client_.send(endpoint, std::move(req), std::chrono::seconds(call.timeout));
        if (!r.answered) {
            out.error = r.timed_out ? "timeout" : r.error;
            co_return out;
        }
        out.status = r.status;
        out.body = r.body;
        for (const auto& f : r.headers) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        co_return out;
    }

private:
    https::Client& client_;
};

}  // namespace

std::unique_ptr<plugin::Http> make_plugin_http(https::Client& client) { return std::make_unique<ClientHttp>(client); }

}  // namespace haineko
