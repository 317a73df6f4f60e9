#include "smtpd/new_message.hpp"

#include <chrono>
#include <set>

#include "core/address.hpp"
#include "message/builder.hpp"
#include "message/compose.hpp"
#include "message/entity.hpp"

namespace haineko {

namespace {

// What the client said of itself goes into our header: nothing that could end the line
// or be taken for our own comment.
std::string printable(std::string_view text) {
    std::string out;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 33 || u > 126 || c == '(' || c == ')' || c == ';') ? '?' : c;
    }
    return out.empty() ? "unknown" : out;
}

std::string address_literal(const std::string& address) {
    return address.find(':') == std::string::npos ? "[" + address + "]" : "[IPv6:" + address + "]";
}

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
    std::string f = "Received: from " + printable(a.helo) + " (" + address_literal(a.client_address) + ")\r\n";
    if (!a.tls_version.empty()) f += "\t(using " + a.tls_version + " with cipher " + a.tls_cipher + ")\r\n";
    if (!a.auth_user.empty() && config.smtp.received_auth_user)
        f += "\t(Authenticated sender: " + printable(a.auth_user) + ")\r\n";
    f += "\tby " + config.smtpd.hostname + " (Haineko) with " + protocol_of(a) + " id " + a.id;
    // One recipient only: more would tell each of them who else got it (as Postfix).
    if (envelope.rcpts.size() == 1) f += "\r\n\tfor <" + envelope.rcpts.front().address + ">";
    f += "; " + rfc5322_date(time_of(a.at)) + "\r\n";
    return f;
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
