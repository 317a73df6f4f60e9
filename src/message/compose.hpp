// The whole RFC 5322 message of a /v1 submission, built once for all its recipients: the
// trace and origin fields, From, To, Cc (never Bcc), Reply-To, Subject, the client's
// extra fields, then the MIME body.
#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/submission.hpp"
#include "message/mime.hpp"

namespace haineko {

struct Composition {
    std::string hostname;    // for Received and the Message-Id's domain
    std::string message_id;  // without angle brackets
    std::string from;        // header values as given ("Name <addr>")
    std::vector<std::string> to, cc;
    std::string reply_to;
    std::string subject;
    std::vector<std::pair<std::string, std::string>> headers;
    MimeContent content;
    // Who sent it and how: client facts, queue id, time, envelope sender and the loop
    // hops, for Received, Sender and the trace fields.
    Submission origin;
};

std::string compose_message(const Composition& c);

// A Message-Id for a queued message: its id, a random part and the host name.
std::string queued_message_id(const std::string& id, const std::string& hostname);

}  // namespace haineko
