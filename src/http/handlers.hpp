// The endpoints: /, /submit, /conf, /sample/mail, /neko, /v1 (http/v1_routes), /metrics
// (http/metrics), and 404 for the rest.
// Paths are matched exactly, as the original did ("/submit/" is not "/submit").
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <boost/beast/http.hpp>

#include <memory>

#include "config/config.hpp"
#include "core/submission.hpp"
#include "relay/mailer.hpp"

namespace haineko {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

namespace plugin {
class Host;
}

struct Peer {
    std::string address;
    int port = 0;
    std::string local_address;  // where the connection came in
    int local_port = 0;
    std::string session_id;                  // for the plugins' conn.id
    std::shared_ptr<plugin::Host> plugins;   // the serving loop's (null: none)
};

namespace queue {
class QueueService;
}
class MetricsScrape;

// queue: the process's queue for /v1 (null: /v1 answers 503 queue-unavailable).
// metrics: what /metrics answers with (null: /metrics is not found).
boost::asio::awaitable<Response> handle_request(const Request& request, const Peer& peer,
                                                std::shared_ptr<const Config> config, MailerSet& mailers,
                                                queue::QueueService* queue = nullptr, MetricsScrape* metrics = nullptr);

// The session facts every answer carries: the client's address (through trusted
// proxies), port, User-Agent and Referer (made valid UTF-8).
ClientFacts client_facts(const http::request_header<>& request, const Peer& peer, const Config& config);

// A JSON answer with the headers every answer carries. Its text is always valid UTF-8.
Response json_response(http::status status, const boost::json::value& body, unsigned version, bool keep_alive);
Response json_response(http::status status, std::string json_text, unsigned version, bool keep_alive);

// An error answer in the session shape with no submission started.
Response error_response(http::status status, std::string_view group, std::string_view name, const ClientFacts& client,
                        unsigned version, bool keep_alive);

// The whole HTTP answer (status line to body) for a connection refused over
// max_connections: 503 with Retry-After and the session shape.
std::string too_many_connections_answer(const std::string& client_address, int client_port);

}  // namespace haineko
