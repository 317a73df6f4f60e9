// The one builder of our Received: field (RFC 5321 4.4), for every intake: SMTP writes it
// one clause per line with its TLS and AUTH comments, the HTTP intakes (/submit, /v1) on one
// line as the original Haineko did ("from NAME ([ADDRESS]) by HOST with HTTP id ID; DATE").
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "core/submission.hpp"

namespace haineko {

struct ReceivedTrace {
    std::string from;            // what the client called itself (EHLO, or the JSON's ehlo)
    std::string client_address;  // its IP address, written as an address literal
    std::string by;              // our hostname
    std::string product;         // a comment after `by` ("Haineko"), "" for none
    std::string with;            // RFC 3848: SMTP, ESMTPSA, HTTP, ...
    std::string id;              // the queue id
    std::string tls_version;     // with tls_cipher: "(using TLSv1.3 with cipher ...)"
    std::string tls_cipher;
    std::string auth_user;       // "(Authenticated sender: ...)" when set
    std::string for_rcpt;        // "for <...>" when set: a single recipient only
    std::chrono::system_clock::time_point at;
    bool clause_per_line = false;
};

// The whole field, "Received: ...\r\n", folded.
std::string received_field(const ReceivedTrace& trace);

// The HTTP intakes' field: from FROM ([ADDRESS]) by HOSTNAME with HTTP id QUEUEID; STARTED.
std::string http_received_field(std::string_view from, const Submission& s, const std::string& hostname);

// RFC 5321 4.1.3: [192.0.2.1], [IPv6:2001:db8::1].
std::string address_literal(std::string_view address);

// What a client said of itself, made safe for our header: nothing that could end the line
// or be taken for our own comment ("unknown" for nothing at all).
std::string printable_in_trace(std::string_view text);

}  // namespace haineko
