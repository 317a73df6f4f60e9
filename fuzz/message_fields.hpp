// The fields of a submission for the message builder, out of one byte string: the fields
// are separated by the byte 0x1F (ASCII unit separator), in the order of kFieldNames.
// Missing fields are empty; bytes after the last field are part of it.
//
// Shared by fuzz/fuzz_message_builder.cpp and tests/tools/message_dump.cpp, so that a
// corpus file means the same message to both.
#pragma once
#include <array>
#include <chrono>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/submission.hpp"

namespace haineko::fuzz {

inline constexpr char kFieldSeparator = '\x1f';

inline constexpr std::array<const char*, 11> kFieldNames{
    "subject", "from", "replyto", "body", "charset", "useragent", "referer", "rcpt", "mail", "ehlo", "received",
};

struct MessageFields {
    std::string subject, from, replyto, body, charset, useragent, referer, rcpt, mail, ehlo, received;
};

inline MessageFields split_message_fields(std::string_view data) {
    MessageFields f;
    std::string* slots[] = {&f.subject, &f.from, &f.replyto, &f.body,  &f.charset,  &f.useragent,
                            &f.referer, &f.rcpt, &f.mail,    &f.ehlo, &f.received};
    constexpr size_t n = sizeof slots / sizeof slots[0];
    static_assert(n == kFieldNames.size());
    for (size_t i = 0; i < n; ++i) {
        size_t sep = i + 1 < n ? data.find(kFieldSeparator) : std::string_view::npos;
        *slots[i] = std::string(data.substr(0, sep));
        if (sep == std::string_view::npos) break;
        data.remove_prefix(sep + 1);
    }
    return f;
}

inline constexpr const char* kDefaultMail = "sender@example.org";
inline constexpr const char* kDefaultRcpt = "neko@example.jp";
inline constexpr const char* kDefaultEhlo = "client.example.net";
inline constexpr const char* kClientAddress = "192.0.2.1";

// The submission the checks would have let through: header fields as given (the builder
// must cope with anything in them), the envelope sender, recipient and EHLO only when
// they would pass the checks (else a fixed valid one), the charset UTF-8 when empty.
inline Submission submission_from(const MessageFields& f, const std::string& hostname) {
    Submission s;
    s.queueid = "QZ7fuzzQ0000abcd";
    s.started = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    s.client.address = kClientAddress;
    s.client.port = 50320;
    s.client.useragent = f.useragent;
    s.client.referer = f.referer;
    s.ehlo = is_valid_ehlo(f.ehlo) ? f.ehlo : kDefaultEhlo;
    s.mail = is_email_address(f.mail) ? f.mail : kDefaultMail;
    s.rcpt.push_back(is_email_address(f.rcpt) ? f.rcpt : kDefaultRcpt);
    s.header.from = f.from;
    s.header.replyto = f.replyto;
    s.header.subject = f.subject;
    if (!f.charset.empty()) s.header.charset = f.charset;
    if (!f.received.empty()) s.header.received.push_back(f.received);
    s.header.loop.push_back(hostname);
    s.body = f.body;
    return s;
}

}  // namespace haineko::fuzz
