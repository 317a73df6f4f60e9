#include "core/reply.hpp"

#include "core/json_text.hpp"
#include "core/text.hpp"

#include <array>
#include <cctype>

namespace haineko {
namespace {

struct NamedReply {
    std::string_view group;
    std::string_view name;
    int code;
    std::string_view dsn;  // empty: none
    std::string_view text;
};

constexpr std::array kNamedReplies{
    NamedReply{"conn", "cannot-connect", 421, "", "Cannot connect SMTP Server"},
    NamedReply{"conn", "detect-loop", 421, "", "Detected message loop"},
    NamedReply{"http", "method-not-supported", 421, "", "GET method not supported"},
    NamedReply{"http", "malformed-json", 421, "", "Malformed JSON string"},
    NamedReply{"http", "not-found", 421, "", "Not found"},
    NamedReply{"http", "forbidden", 421, "", "Access denied"},
    NamedReply{"http", "server-error", 500, "", "Internal Server Error"},
    NamedReply{"http", "payload-too-large", 552, "5.3.4", "Request body is too large"},
    NamedReply{"http", "header-too-large", 421, "", "Request header is too large"},
    NamedReply{"http", "bad-request", 421, "", "Bad request"},
    NamedReply{"http", "request-timeout", 421, "4.4.2", "Request timed out"},
    NamedReply{"http", "too-many-connections", 421, "4.3.2", "Too many connections; try again later"},
    NamedReply{"auth", "auth-required", 500, "5.7.1", "Access denied. Proper authentication required."},
    NamedReply{"auth", "access-denied", 500, "5.7.1", "Access denied"},
    NamedReply{"ehlo", "require-domain", 501, "5.0.0", "EHLO requires domain address"},
    NamedReply{"ehlo", "invalid-domain", 501, "5.0.0", "Invalid domain name"},
    NamedReply{"mail", "syntax-error", 501, "5.5.2", "Syntax error in parameters scanning \"FROM\""},
    NamedReply{"mail", "domain-required", 553, "5.5.4", "Domain name required for sender address"},
    NamedReply{"mail", "non-ascii", 553, "5.6.7", "non-ASCII address is not permitted"},
    NamedReply{"mail", "address-too-long", 553, "5.1.7", "Address is too long"},
    NamedReply{"rcpt", "address-required", 553, "5.0.0", "User address required"},
    NamedReply{"rcpt", "too-many-recipients", 452, "4.5.3", "Too many recipients"},
    NamedReply{"rcpt", "is-not-emailaddress", 553, "5.1.5", "Recipient address is invalid"},
    NamedReply{"rcpt", "rejected", 553, "5.7.1", "Recipient address is not permitted"},
    NamedReply{"data", "empty-body", 500, "5.6.0", "Message body is empty"},
    NamedReply{"data", "mesg-too-big", 552, "5.2.3", "Message size exceeds fixed maximum message size"},
    NamedReply{"data", "empty-subject", 500, "5.6.0", "Subject header is empty"},
    NamedReply{"data", "discard", 200, "", "Discard"},
    NamedReply{"conf", "not-looks-like-number", 500, "", "does not look like number"},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Finds "X.Y.Z" (class 2-5, subject 1-3 digits, detail 1-3 digits) as a separate word.
std::optional<std::string> find_enhanced_code(std::string_view line) {
    for (size_t i = 0; i + 4 < line.size() + 1; ++i) {
        if (i > 0 && !std::isspace(static_cast<unsigned char>(line[i - 1]))) continue;
        if (line[i] < '2' || line[i] > '5' || i + 1 >= line.size() || line[i + 1] != '.') continue;
        size_t j = i + 2, start = j;
        while (j < line.size() && is_digit(line[j]) && j - start < 3) ++j;
        if (j == start || j >= line.size() || line[j] != '.') continue;
        size_t k = j + 1, kstart = k;
        while (k < line.size() && is_digit(line[k]) && k - kstart < 3) ++k;
        if (k == kstart) continue;
        if (k < line.size() && !std::isspace(static_cast<unsigned char>(line[k]))) continue;
        return std::string(line.substr(i, k - i));
    }
    return std::nullopt;
}

}  // namespace

void Reply::write_json(JsonText& out) const {
    out.begin_object();
    out.key("dsn").string_or_null(dsn);
    if (code_is_text)
        out.key("code").string(std::to_string(code));
    else
        out.key("code").number(code);
    out.key("host").string_or_null(host);
    out.key("port").number_or_null(port);
    out.key("rcpt").string_or_null(rcpt);
    out.key("error").number(error() ? 1 : 0);
    out.key("mailer").string_or_null(mailer);
    out.key("command").string(command);
    out.key("message").begin_array();
    for (const auto& m : message) out.string(m);
    out.end_array();
    out.end_object();
}

Reply named_reply(std::string_view group, std::string_view name) {
    for (const auto& r : kNamedReplies) {
        if (r.group != group || r.name != name) continue;
        Reply out;
        out.code = r.code;
        if (!r.dsn.empty()) out.dsn = std::string(r.dsn);
        out.command = to_upper(group);
        out.id = std::string(group) + "/" + std::string(name);
        out.message.emplace_back(r.text);
        return out;
    }
    return named_reply("http", "server-error");
}

Reply parse_smtp_reply(std::string_view command, const std::vector<std::string>& lines) {
    Reply out;
    out.command = to_upper(command);
    out.code_is_text = true;
    for (const auto& raw : lines) {
        std::string_view line = raw;
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' '))
            line.remove_suffix(1);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (line.size() >= 3 && is_digit(line[0]) && is_digit(line[1]) && is_digit(line[2]) &&
            (line.size() == 3 || line[3] == ' ' || line[3] == '-')) {
            out.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
            std::string_view rest = line.size() > 4 ? line.substr(4) : std::string_view{};
            if (auto dsn = find_enhanced_code(rest)) out.dsn = *dsn;
            // Keep the text after the code, as the relay said it (minus the continuation mark).
            out.message.emplace_back(rest);
        } else {
            out.message.emplace_back(line);
        }
    }
    return out;
}

}  // namespace haineko
