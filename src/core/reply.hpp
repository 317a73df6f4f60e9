// One SMTP-style answer: what a check, a mailer or a relay said about one recipient.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace haineko {

class JsonText;

struct Reply {
    std::optional<std::string> dsn;
    int code = 0;
    // Replies read off an SMTP server keep their code as a string, as the original did;
    // the ones Haineko makes itself carry a number.
    bool code_is_text = false;
    std::optional<std::string> host;
    std::optional<int> port;
    std::optional<std::string> rcpt;
    std::optional<std::string> mailer;
    std::string command;
    std::vector<std::string> message;
    // "group/name" of a named reply ("rcpt/rejected"), so that an intake can answer it
    // in its own terms (an HTTP status, an SMTP code); empty for other replies.
    std::string id;
    // Why, in words for the operator: which rule refused, which host looped, where the
    // JSON broke. It goes into the log line only, never into an answer.
    std::string cause;

    bool error() const { return code >= 400 && code <= 599; }
    // The contract's response entry: {dsn, code, host, port, rcpt, error, mailer, command, message}.
    void write_json(JsonText& out) const;
};

// A reply from the table of named answers, e.g. ("rcpt", "rejected").
// The command is the upper-cased group name. Unknown names give http/server-error.
Reply named_reply(std::string_view group, std::string_view name);

// Parses the lines an SMTP server sent ("250-..." / "250 2.0.0 ok") into a reply:
// the code, the enhanced status code, and the text of every line.
Reply parse_smtp_reply(std::string_view command, const std::vector<std::string>& lines);

}  // namespace haineko
