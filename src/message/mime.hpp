// The MIME body of a /v1 message: text and html as multipart/alternative, inline
// attachments (with a Content-ID) in multipart/related with the html, other attachments
// in multipart/mixed. Text parts go as quoted-printable or base64, whichever is smaller;
// attachments as base64; a file name that is not ASCII as RFC 2231.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace haineko {

struct Attachment {
    std::string filename;      // UTF-8; may be empty
    std::string content_type;  // type/subtype; application/octet-stream when empty
    std::string content;       // the bytes, decoded
    std::string content_id;    // inline when not empty, without angle brackets
};

struct MimeContent {
    std::optional<std::string> text;  // UTF-8
    std::optional<std::string> html;  // UTF-8
    std::vector<Attachment> attachments;
    std::string charset = "UTF-8";  // for the text parts; UTF-8 when it cannot hold them
};

struct MimeEntity {
    std::string header;  // Content-Type and Content-Transfer-Encoding lines, CRLF each
    std::string body;    // CRLF lines
};

// boundary_seed makes the boundaries unique to this message (e.g. its id).
MimeEntity build_mime(const MimeContent& content, const std::string& boundary_seed);

// True for "type/subtype" made of RFC 2045 token characters.
bool is_media_type(const std::string& text);

}  // namespace haineko
