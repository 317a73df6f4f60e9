// Builds the RFC 5322 message of a submission once; each recipient then gets its own copy
// with its own To: header, so recipients never see each other.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/submission.hpp"

namespace haineko {

struct BuiltMessage {
    std::string message_id;        // without angle brackets
    std::string charset;           // what the body went out in
    std::string transfer_encoding; // 7bit, 8bit, quoted-printable or base64
    std::string head_before_to;    // Received ... From
    std::string head_after_to;     // Reply-To ... X-Originating-IP, then the blank line
    std::string body;              // encoded, CRLF
    std::string raw_body;          // the 8bit body before encoding; empty unless eight_bit()
    // The body dot-stuffed for SMTP DATA, with the final ".\r\n"; made once, on first use
    // by a relay, and shared by every recipient's transaction (all on one loop).
    mutable std::optional<std::string> smtp_body;
    // The header holds its own To: and Cc: (a /v1 message, built once for all its
    // recipients): no recipient's To: goes in, and head_after_to is the blank line alone.
    bool own_to = false;

    bool eight_bit() const { return transfer_encoding == "8bit"; }
    std::string for_recipient(const std::string& rcpt) const;
    static std::string to_field(const std::string& rcpt);
    std::size_t size_for(const std::string& rcpt) const;
    // The same message with an 8bit body re-encoded as base64, for a relay that does not
    // offer 8BITMIME.
    BuiltMessage seven_bit_copy() const;
};

BuiltMessage build_message(const Submission& submission, const Config& config);

// A whole message kept as bytes (the queue's copy), ready for the mailers: own_to, with
// the header and the body split at the first blank line.
BuiltMessage built_from_bytes(const std::string& message_id, const std::string& bytes);

// What goes between the header parts for these recipients: one recipient's To: for a
// message that has none of its own, else nothing.
std::string to_line_for(const BuiltMessage& message, const std::vector<std::string>& rcpts);

// RFC 5322 date in the local time zone: "Sun, 22 Nov 2026 09:15:00 +0900".
std::string rfc5322_date(std::chrono::system_clock::time_point when);

}  // namespace haineko
