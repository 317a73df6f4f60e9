#include "http/v1_answer.hpp"

#include "core/time.hpp"
#include "queue/event_json.hpp"

namespace haineko {

namespace json = boost::json;
using namespace haineko::queue;

namespace {

json::object recipient_json(const RecipientState& r, bool summary) {
    json::object o{{"rcpt", r.rcpt},
                   {"status", std::string(name_of(r.status))},
                   {"attempts", r.attempts},
                   {"next_attempt_at", time_or_null(r.next_attempt_at)},
                   {"updated_at", rfc3339(r.updated_at)}};
    o["route"] = r.route ? json::value(json::object{{"mailer", r.route->mailer}, {"host", r.route->host},
                                                    {"port", r.route->port}})
                         : json::value(nullptr);
    if (!summary) o["last_reply"] = r.last_reply ? json::value(reply_json(*r.last_reply)) : json::value(nullptr);
    return o;
}

}  // namespace

json::object message_json(const MessageState& m, bool summary) {
    json::object o{{"id", m.id},
                   {"status", std::string(name_of(m.status))},
                   {"message_id", m.message_id},
                   {"created_at", rfc3339(m.created_at)},
                   {"send_at", time_or_null(m.send_at)},
                   {"from", m.from},
                   {"mail", m.mail},
                   {"subject", m.subject},
                   {"size", m.size},
                   {"tags", tags_json(m.tags)},
                   {"metadata", metadata_json(m.metadata)}};
    json::array recipients;
    for (const auto& r : m.recipients) recipients.push_back(recipient_json(r, summary));
    o["recipients"] = std::move(recipients);
    if (!summary) {
        json::array events;
        for (const auto& e : m.events) events.push_back(event_json(e, false));
        o["events"] = std::move(events);
    }
    return o;
}

json::object counts_json(const QueueCounts& c) {
    json::array routes;
    for (const auto& r : c.by_route)
        routes.push_back(json::object{
            {"mailer", r.mailer}, {"host", r.host}, {"pending", r.pending}, {"oldest_at", rfc3339(r.oldest_at)}});
    json::object out{{"pending", c.pending},
                     {"by_status", json::object{{"queued", c.queued}, {"deferred", c.deferred}, {"held", c.held}}},
                     {"by_route", std::move(routes)},
                     {"oldest_at", time_or_null(c.oldest_at)}};
    // Our addition, for a shared queue only: the contract's shape stays as it is otherwise.
    if (c.in_flight) {
        json::array nodes;
        for (const auto& n : *c.in_flight)
            nodes.push_back(json::object{{"node", n.node}, {"recipients", n.recipients}, {"lease_until", rfc3339(n.lease_until)}});
        out["in_flight"] = std::move(nodes);
    }
    return out;
}

Response v1_response(http::status status, const json::value& body, const Request& request) {
    return json_response(status, body, request.version(), request.keep_alive());
}

Response v1_error(const V1Problem& p, const Request& request) {
    json::object error{{"code", p.code}, {"message", p.message}};
    if (!p.field.empty()) error["field"] = p.field;
    return v1_response(static_cast<http::status>(p.status), json::object{{"error", std::move(error)}}, request);
}

Response v1_error(int status, const std::string& code, const std::string& message, const Request& request,
                  const std::string& field) {
    return v1_error(V1Problem{status, code, message, field}, request);
}

}  // namespace haineko
