#include "queue/disposition.hpp"

#include <algorithm>

namespace haineko::queue {

ReplyFacts facts_of(const Reply& reply) {
    ReplyFacts f;
    f.code = std::to_string(reply.code);
    f.dsn = reply.dsn.value_or("");
    // /submit labels a relayed success QUIT, as the original did; the queue says where the
    // 2xx came from: the end of DATA.
    f.command = reply.code >= 200 && reply.code <= 299 && reply.command == "QUIT" ? "DATA" : reply.command;
    f.message = reply.message;
    f.host = reply.host.value_or("");
    return f;
}

Outcome dispose(const DueRecipient& due, const Reply& reply, const RouteFacts& route, const RetryPolicy& policy,
                Millis now, std::mt19937_64& random) {
    Outcome o;
    o.message = due.message;
    o.position = due.position;
    o.rcpt = due.rcpt;
    o.route = route;
    o.reply = facts_of(reply);
    if (reply.code >= 200 && reply.code <= 299) {
        o.status = RcptStatus::delivered;
    } else if ((reply.code >= 500 && reply.code <= 599) || lifetime_over(policy, due.created_at, now)) {
        o.status = RcptStatus::bounced;
    } else {
        o.status = RcptStatus::deferred;
        // The last try falls at the end of the lifetime, not after it.
        const Millis next = now + backoff_after(policy, due.attempts + 1, random);
        o.next_attempt_at = std::min(next, std::max(now, due.created_at + policy.max_lifetime));
    }
    return o;
}

}  // namespace haineko::queue
