// Delivery status notifications (RFC 3464): the report a sender gets when recipients
// bounced. A multipart/report with a human text part, the message/delivery-status part
// and the original's header as text/rfc822-headers, from MAILER-DAEMON, to go out with a
// null envelope sender.
#pragma once
#include <chrono>
#include <string>
#include <vector>

namespace haineko {

struct FailedRecipient {
    std::string rcpt;
    std::string status;      // an enhanced status code, "5.1.1"
    std::string diagnostic;  // the reply: "550 5.1.1 <neko@example.org>: no such user"
    std::string remote_mta;  // the host that answered, or ""
    std::string orcpt;       // the client's ORCPT ("rfc822;addr"), or ""
};

struct DsnReport {
    std::string hostname;       // the Reporting-MTA and the From's domain
    std::string to;             // the original's envelope sender
    std::string queue_id;       // the original's id
    std::chrono::system_clock::time_point arrival;  // when the original was accepted
    std::chrono::system_clock::time_point now;
    std::string original_header;  // the original's header section, CRLF lines
    std::string original_message; // the whole original, when the sender asked for it (RET=FULL)
    std::string envid;            // the sender's ENVID, or ""
    std::vector<FailedRecipient> recipients;
};

struct BuiltDsn {
    std::string message_id;  // without angle brackets
    std::string message;     // the whole message, CRLF
};

BuiltDsn build_dsn(const DsnReport& report);

// The header section of a message (up to its blank line), or all of it when it has none.
std::string header_section(const std::string& message);

}  // namespace haineko
