// What an SMTP client sends, read by the SMTP server (RFC 5321 4.1, with the parameters
// of SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461) and AUTH
// (RFC 4954)). Pure functions over one command line: no state, no I/O. A refusal comes
// with the reply the server sends for it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace haineko::smtpd {

// RFC 5321 4.5.3.1.4: a command line of at most 512 octets, CRLF included.
constexpr std::size_t kMaxCommandLine = 512;

enum class Verb { ehlo, helo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, help, starttls, auth, unknown };

struct Command {
    Verb verb = Verb::unknown;
    std::string name;  // as sent, upper-cased ("" for an empty line)
    std::string arg;   // after the first space, trailing spaces removed
};

// One line without its CRLF. The verb is matched without case.
Command parse_command(std::string_view line);

// What the server answers when an argument is wrong: code, enhanced code, text.
struct Refusal {
    int code;
    std::string dsn;
    std::string text;
};

struct MailFrom {
    std::string address;                 // "" for the null sender <>
    std::optional<std::uint64_t> size;   // SIZE=
    bool eight_bit = false;              // BODY=8BITMIME
    bool smtputf8 = false;               // SMTPUTF8
    std::optional<std::string> ret;      // RET=FULL | HDRS (upper-cased)
    std::optional<std::string> envid;    // ENVID=, xtext decoded
    std::optional<std::string> auth;     // AUTH=, xtext decoded ("<>" kept as is)
};

struct RcptTo {
    std::string address;
    std::optional<std::string> notify;   // NOTIFY=NEVER or a list of SUCCESS,FAILURE,DELAY (upper-cased)
    std::optional<std::string> orcpt;    // ORCPT=addr-type;xtext, decoded
};

// The argument of MAIL ("FROM:<path> params"), and of RCPT ("TO:<path> params").
// utf8: whether the client may use UTF-8 in addresses (it said SMTPUTF8 at MAIL).
std::variant<MailFrom, Refusal> parse_mail_from(std::string_view arg);
std::variant<RcptTo, Refusal> parse_rcpt_to(std::string_view arg, bool utf8);

// RFC 3461 4: "+XX" for "+", "=" and bytes outside 33..126. nullopt when malformed.
std::optional<std::string> decode_xtext(std::string_view text);

}  // namespace haineko::smtpd
