// A message taken by SMTP, made ready for the queue: the Received field that records the
// hop (RFC 5321 4.4, with the TLS and AUTH facts of RFC 3848), the Message-Id and Date a
// submission server adds when the client left them out (RFC 6409 8.3), and the envelope
// and routes the queue keeps.
#pragma once
#include <string>
#include <vector>

#include "config/config.hpp"
#include "pipeline/acceptance_routes.hpp"
#include "queue/records.hpp"
#include "smtpd/session.hpp"

namespace haineko {

// Who handed the message over, and how.
struct SmtpArrival {
    std::string id;  // the queue id it gets
    std::string client_address;
    std::string helo;
    bool esmtp = true;
    std::string tls_version;  // "" without TLS
    std::string tls_cipher;
    std::string auth_user;  // "" when not authenticated
    queue::Millis at = 0;
};

// "from HELO ([ADDR]) ... by HOST (Haineko) with ESMTPSA id ID for <RCPT>; DATE", folded.
std::string received_field(const Config& config, const SmtpArrival& arrival, const smtpd::Envelope& envelope);

// The message as the queue keeps it, with the fields above added.
queue::NewMessage smtp_new_message(const Config& config, const SmtpArrival& arrival, const smtpd::Envelope& envelope,
                                   const std::string& message);

}  // namespace haineko
