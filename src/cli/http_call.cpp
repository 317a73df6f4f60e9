#include "cli/http_call.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/base64.hpp"

namespace haineko {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::optional<HttpAnswer> http_call(const std::string& host, int port, const std::string& method,
                                    const std::string& target, const std::string& body, const std::string& credentials,
                                    int timeout_seconds) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(timeout_seconds));
    asio::ip::tcp::resolver resolver(io);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return std::nullopt;
    stream.connect(endpoints, ec);
    if (ec) return std::nullopt;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "hainekoctl");
    req.set(http::field::content_type, "application/json");
    if (!credentials.empty()) req.set(http::field::authorization, "Basic " + base64_encode(credentials));
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req, ec);
    if (ec) return std::nullopt;
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res, ec);
    if (ec) return std::nullopt;
    return HttpAnswer{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace haineko
