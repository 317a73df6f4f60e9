// The endpoints: /, /submit, /conf, /sample/mail, /neko, and 404 for the rest.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>

#include <memory>

#include "config/config.hpp"
#include "relay/mailer.hpp"

namespace haineko {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct Peer {
    std::string address;
    int port = 0;
};

boost::asio::awaitable<Response> handle_request(const Request& request, const Peer& peer,
                                                std::shared_ptr<const Config> config, MailerSet& mailers);

// A JSON answer with the headers every answer carries.
Response json_response(http::status status, const boost::json::value& body, unsigned version, bool keep_alive);

// An error answer in the session shape with no submission started.
Response error_response(http::status status, std::string_view group, std::string_view name, const Peer& peer,
                        unsigned version, bool keep_alive);

}  // namespace haineko
