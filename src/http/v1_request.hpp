// Reading the body of POST /v1/messages (api-v1.md): strict JSON, every field checked,
// and the first fault answered with its code and the field it is in ("to[2]").
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "message/compose.hpp"
#include "message/mime.hpp"

namespace haineko {

struct V1Problem {
    int status = 400;
    std::string code;  // kebab-case: malformed-json, invalid-field, missing-field, too-large
    std::string message;
    std::string field;  // "" when no one field is at fault
};

struct V1Message {
    std::string from;          // the From header's value as given ("Name <addr>")
    std::string from_address;  // its address
    std::vector<std::string> to, cc;  // header values
    std::vector<std::string> rcpts;   // the envelope: to + cc + bcc (or rcpt), without duplicates
    std::vector<std::string> rcpt_fields;  // where each envelope recipient came from ("bcc[0]")
    std::string reply_to;
    std::string subject;
    std::string mail;  // the envelope sender: mail, else from's address
    MimeContent content;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<std::int64_t> send_at;  // milliseconds since the epoch
    std::vector<std::string> tags;
    std::vector<std::pair<std::string, std::string>> metadata;
};

// Limits of the fields (documented in docs/api-v1.md).
inline constexpr std::size_t kMaxTags = 32, kMaxTagLength = 128;
inline constexpr std::size_t kMaxMetadataKeys = 32, kMaxMetadataKeyLength = 64, kMaxMetadataValueLength = 1024;
inline constexpr std::size_t kMaxHeaders = 64, kMaxHeaderValueLength = 998;
inline constexpr std::size_t kMaxAttachments = 100, kMaxFilenameLength = 255;

std::variant<V1Message, V1Problem> read_v1_message(std::string_view body, std::size_t max_recipients);

// A composition holding the client's fields (from, to, cc, reply_to, subject, headers,
// content); the caller adds the host name, the Message-Id and the origin.
Composition composition_of(const V1Message& m);

// True for a header field name (RFC 5322 ftext, at most 76 characters) that /v1 lets a
// client set: not one Haineko writes itself.
bool is_settable_header(std::string_view name);
bool is_field_name(std::string_view name);

}  // namespace haineko
