// A whole message (kept as bytes in the queue) read back into its text, HTML and
// attachments: what an email cloud's JSON API takes. The inverse of build_mime, and
// lenient with any MIME a client may have sent: unknown parts become attachments, and
// nesting past a limit is not followed.
#pragma once
#include <string>
#include <string_view>

#include "core/submission.hpp"
#include "message/builder.hpp"
#include "message/mime.hpp"

namespace haineko {

struct ReadMessage {
    MimeContent content;   // text and html as UTF-8 with LF line ends; charset "UTF-8"
    std::string reply_to;  // the Reply-To field's value, unfolded, or empty
};

ReadMessage read_message(std::string_view message);

// What a mailer that takes content rather than a whole message (a JSON API) sends: for
// /submit the submission's body as the text; for a message kept whole (the queue's,
// own_to) its text, HTML, attachments and Reply-To read back from its MIME.
ReadMessage content_of(const Submission& submission, const BuiltMessage& message);

// Quoted-printable (RFC 2045 6.7) decoded; a malformed escape is kept as it is.
std::string decode_quoted_printable(std::string_view text);

}  // namespace haineko
