#include "smtpd/new_message.hpp"

#include <chrono>
#include <set>

#include "core/address.hpp"
#include "message/builder.hpp"
#include "message/compose.hpp"
#include "message/entity.hpp"
#include "message/received.hpp"

namespace haineko {

namespace {

// RFC 3848: SMTP, ESMTP, then S for TLS and A for AUTH.
std::string protocol_of(const SmtpArrival& a) {
    if (!a.esmtp) return "SMTP";
    return std::string("ESMTP") + (a.tls_version.empty() ? "" : "S") + (a.auth_user.empty() ? "" : "A");
}

std::chrono::system_clock::time_point time_of(queue::Millis at) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(at));
}

}  // namespace

std::string received_field(const Config& config, const SmtpArrival& a, const smtpd::Envelope& envelope) {
    ReceivedTrace t;
    t.from = a.helo;
    t.client_address = a.client_address;
    t.by = config.smtpd.hostname;
    t.product = "Haineko";
    t.with = protocol_of(a);
    t.id = a.id;
    t.tls_version = a.tls_version;
    t.tls_cipher = a.tls_cipher;
    if (config.smtp.received_auth_user) t.auth_user = a.auth_user;
    // One recipient only: more would tell each of them who else got it (as Postfix).
    if (envelope.rcpts.size() == 1) t.for_rcpt = envelope.rcpts.front().address;
    t.at = time_of(a.at);
    t.clause_per_line = true;
    return received_field(t);
}

queue::NewMessage smtp_new_message(const Config& config, const SmtpArrival& a, const smtpd::Envelope& envelope,
                                   const std::string& message) {
    queue::NewMessage n;
    n.id = a.id;
    n.user = a.auth_user;
    n.mail = envelope.mail.address;
    n.created_at = a.at;
    const Entity head = split_entity(message);
    n.from = address_in(head.field("from"));
    n.subject = head.field("subject");
    n.message_id = head.field("message-id");
    std::string added;
    if (n.message_id.empty()) {
        n.message_id = "<" + queued_message_id(a.id, config.smtpd.hostname) + ">";
        added += "Message-Id: " + n.message_id + "\r\n";
    }
    if (!head.has("date")) added += "Date: " + rfc5322_date(time_of(a.at)) + "\r\n";
    n.body.reserve(message.size() + added.size() + 512);
    n.body = received_field(config, a, envelope);
    n.body.append(message, 0, head.header_end);
    // A header that does not end in a line end gets one before the added fields.
    if (!added.empty() && head.header_end > 0 && message[head.header_end - 1] != '\n') n.body += "\r\n";
    n.body += added;
    n.body.append(message, head.header_end, std::string::npos);
    n.dsn_ret = envelope.mail.ret;
    n.dsn_envid = envelope.mail.envid;
    std::set<std::string> seen;
    for (const auto& r : envelope.rcpts) {
        if (!seen.insert(r.address).second) continue;
        n.rcpts.push_back(r.address);
        n.rcpt_dsn.push_back(queue::RcptDsn{r.notify, r.orcpt});
    }
    n.routes = routes_at_acceptance(config, n.mail, n.rcpts);
    return n;
}

}  // namespace haineko
