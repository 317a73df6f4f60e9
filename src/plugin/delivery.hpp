// The delivery hooks (spec/plugins.md, "Delivery hooks"), run by the queue's scheduler
// for each recipient: get_route when it is claimed, and delivered, deferred or bounce
// once its outcome is committed. A hook sees msg (read-only) and the recipient.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string>

#include "plugin/answer.hpp"

namespace haineko::plugin {

class Host;

struct MsgFacts {
    std::string id;
    std::string mail_from;
    const std::string* bytes = nullptr;  // the message (its header is read)
    int attempts = 0;                    // of this recipient, this one included
    std::string mailer, host;            // the route in force
    int port = 0;
};

struct RouteChoice {
    enum class Kind { keep, named, table } kind = Kind::keep;
    std::string name;            // a mailertable entry
    boost::json::object table;   // a route with mailertable's keys
    std::string plugin;          // who chose
};

struct DeliveryReply {
    int code = 0;
    std::string dsn, text, host;
};

// The first plugin whose get_route answers something other than nil decides.
boost::asio::awaitable<RouteChoice> choose_route_by_plugins(Host& host, const MsgFacts& msg, const std::string& rcpt);

// hook is delivered, deferred or bounce; what the hooks answer is ignored.
boost::asio::awaitable<void> tell_outcome(Host& host, Hook hook, const MsgFacts& msg, const std::string& rcpt,
                                          const DeliveryReply& reply);

}  // namespace haineko::plugin
