// The /v1 API's answers as JSON (api-v1.md): a message with its recipients and events,
// summaries, the event feed, queue counts, and the error shape
// {"error": {"code", "message", "field"}}.
#pragma once
#include <boost/json.hpp>

#include <string>

#include "http/handlers.hpp"
#include "http/v1_request.hpp"
#include "queue/event_json.hpp"
#include "queue/records.hpp"

namespace haineko {

boost::json::object message_json(const queue::MessageState& m, bool summary);
boost::json::object counts_json(const queue::QueueCounts& c);

// A JSON answer of /v1 (same headers as every answer).
Response v1_response(http::status status, const boost::json::value& body, const Request& request);
Response v1_error(const V1Problem& problem, const Request& request);
Response v1_error(int status, const std::string& code, const std::string& message, const Request& request,
                  const std::string& field = "");

}  // namespace haineko
