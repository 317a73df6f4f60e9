// The JSON of the queue's values that both the /v1 API and the webhooks write: an event
// (as in GET /v1/events, and the body of a webhook), a reply, tags and metadata.
#pragma once
#include <boost/json.hpp>

#include <optional>

#include "queue/records.hpp"

namespace haineko::queue {

boost::json::value time_or_null(const std::optional<Millis>& t);
boost::json::object reply_json(const ReplyFacts& r);
boost::json::array tags_json(const std::vector<std::string>& tags);
boost::json::object metadata_json(const std::vector<std::pair<std::string, std::string>>& metadata);

// feed: the /v1/events shape (id, rcpt, reply, tags, metadata always there); else the
// shape inside a message's events (rcpt and reply only when they are set).
boost::json::object event_json(const Event& e, bool feed);

}  // namespace haineko::queue
