// What an SMTP server says, read by the relay: ReplyParser over the bytes as they arrive
// (whole or in pieces, the same replies), parse_smtp_reply over reply lines, parse_ehlo
// over an EHLO answer, the CRAM-MD5 answer to a challenge; and dot_stuffed, which must
// never let a line of the message end the DATA early.
//
// The input is split at LF into lines (a CR before the LF stays, as it would arrive); the
// first byte picks the command the reply answers.
#include <cstdint>

#include "fuzz_support.hpp"
#include <boost/json.hpp>

#include "core/json_text.hpp"
#include "core/reply.hpp"
#include "message/encoding.hpp"
#include "core/base64.hpp"
#include "relay/smtp/smtp_text.hpp"

using namespace haineko;

namespace {

std::vector<std::string> split_lf(std::string_view text) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t lf = text.find('\n', pos);
        if (lf == std::string_view::npos) {
            lines.emplace_back(text.substr(pos));
            break;
        }
        lines.emplace_back(text.substr(pos, lf + 1 - pos));
        pos = lf + 1;
    }
    return lines;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct Parsed {
    std::vector<smtp::RawReply> replies;
    bool failed = false;  // a protocol error (std::runtime_error); nothing else may escape
};

// Feeds the bytes in pieces of `piece` octets (0: all at once), taking every whole reply
// after each piece, as the connection does.
Parsed read_replies(std::string_view bytes, size_t piece) {
    Parsed out;
    smtp::ReplyParser parser;
    try {
        size_t pos = 0;
        do {
            size_t n = piece == 0 ? bytes.size() : std::min(piece, bytes.size() - pos);
            parser.feed(bytes.substr(pos, n));
            pos += n;
            while (auto reply = parser.next()) out.replies.push_back(std::move(*reply));
        } while (pos < bytes.size());
    } catch (const std::runtime_error&) {
        out.failed = true;
    }
    return out;
}

void check_raw_reply(const smtp::RawReply& r) {
    FUZZ_CHECK(r.code >= 0 && r.code <= 999, "reply code out of range");
    FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= smtp::ReplyParser::kMaxReplyLines, "reply line count");
    for (size_t i = 0; i < r.lines.size(); ++i) {
        const std::string& l = r.lines[i];
        FUZZ_CHECK(l.size() >= 3 && l.size() <= smtp::ReplyParser::kMaxReplyLine, "reply line length");
        FUZZ_CHECK(l.find('\n') == std::string::npos, "LF kept in a reply line");
        FUZZ_CHECK((l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0') == r.code, "a line with another code");
        const bool last = i + 1 == r.lines.size();
        FUZZ_CHECK(last ? (l.size() == 3 || l[3] == ' ') : (l.size() > 3 && l[3] == '-'), "continuation marks");
    }
    // The relay's reading of the same lines keeps their code.
    Reply parsed = parse_smtp_reply("DATA", r.lines);
    FUZZ_CHECK(parsed.code == r.code, "parse_smtp_reply reads another code");
}

// "X.Y.Z": class 2-5, subject and detail 1-3 digits each.
bool is_enhanced_code(std::string_view s) {
    if (s.size() < 5 || s[0] < '2' || s[0] > '5' || s[1] != '.') return false;
    size_t i = 2, start = 2;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start || i - start > 3 || i >= s.size() || s[i] != '.') return false;
    size_t j = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    return i == s.size() && i > j && i - j <= 3;
}

// Removes one "." from every line that starts with "..", splitting at LF (the lenient
// reading), and the final ".\r\n".
std::string unstuffed(std::string_view out) {
    std::string back;
    bool line_start = true;
    for (size_t i = 0; i < out.size(); ++i) {
        if (line_start && out[i] == '.') ++i;  // the stuffed dot
        if (i < out.size()) back += out[i];
        line_start = i < out.size() && out[i] == '\n';
    }
    return back;
}

void check_dot_stuffing(std::string_view message, bool crlf_text) {
    const std::string out = smtp::dot_stuffed(message);
    FUZZ_CHECK(out.ends_with(".\r\n"), "DATA does not end with .CRLF");
    FUZZ_CHECK(out.size() == 3 || out[out.size() - 4] == '\n', "the final dot is not on a line of its own");
    // Read leniently (lines end at LF, as some servers do), the only line that is a lone
    // dot is the last.
    const std::string_view body(out.data(), out.size() - 3);
    size_t pos = 0;
    while (pos < body.size()) {
        size_t lf = body.find('\n', pos);
        std::string_view line = body.substr(pos, lf == std::string_view::npos ? std::string_view::npos : lf - pos);
        FUZZ_CHECK(line != "." && line != ".\r", "a line of the message ends the DATA early");
        if (lf == std::string_view::npos) break;
        pos = lf + 1;
    }
    if (crlf_text) {
        // As documented for CRLF text ending in CRLF: the message, stuffed, then ".\r\n";
        // no line of the output is "." but the last, and unstuffing gives the message back.
        FUZZ_CHECK(out.ends_with("\r\n.\r\n") || out == ".\r\n", "DATA of CRLF text does not end with CRLF.CRLF");
        auto lines = fuzz::crlf_lines(out);
        for (size_t i = 0; i + 1 < lines.size(); ++i) FUZZ_CHECK(lines[i] != ".", "a lone dot before the end");
        FUZZ_CHECK(!lines.empty() && lines.back() == ".", "the last line is not a lone dot");
        const std::string back = unstuffed(body);
        FUZZ_CHECK(back == message, "unstuffing does not give the message back");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const char* commands[] = {"CONN", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "QUIT", "rset"};
    if (size == 0) return 0;
    const std::string command = commands[data[0] % (sizeof commands / sizeof commands[0])];
    const std::string_view text = fuzz::as_text(data + 1, size - 1);
    const auto lines = split_lf(text);

    // The wire parser: the same replies whichever way the bytes arrive.
    const Parsed whole = read_replies(text, 0);
    const Parsed pieces = read_replies(text, 1 + (data[0] % 7) * 3);
    FUZZ_CHECK(whole.failed == pieces.failed, "a protocol error depends on how the bytes arrive");
    FUZZ_CHECK(whole.replies.size() == pieces.replies.size(), "the replies depend on how the bytes arrive");
    for (size_t i = 0; i < whole.replies.size(); ++i) {
        FUZZ_CHECK(whole.replies[i].code == pieces.replies[i].code && whole.replies[i].lines == pieces.replies[i].lines,
                   "a reply depends on how the bytes arrive");
        check_raw_reply(whole.replies[i]);
    }

    Reply r = parse_smtp_reply(command, lines);
    FUZZ_CHECK(r.code_is_text, "a relay's reply code is not kept as text");
    FUZZ_CHECK(r.code >= 0 && r.code <= 999, "reply code out of range");
    FUZZ_CHECK(r.message.size() == lines.size(), "not one message line per reply line");
    for (size_t i = 0; i < lines.size(); ++i) FUZZ_CHECK(r.message[i].size() <= lines[i].size(), "message line grew");
    if (r.dsn) {
        FUZZ_CHECK(is_enhanced_code(*r.dsn), "dsn is not an enhanced status code");
        bool found = false;
        for (const auto& l : lines) found = found || l.find(*r.dsn) != std::string::npos;
        FUZZ_CHECK(found, "dsn not in any line");
    }
    std::string upper = command;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    FUZZ_CHECK(r.command == upper, "command not upper-cased");
    {
        JsonText entry;  // the answer's entry for this reply must be JSON
        r.write_json(entry);
        boost::system::error_code ec;
        (void)boost::json::parse(entry.text(), ec);
        FUZZ_CHECK(!ec, "reply entry is not JSON");
    }

    smtp::Capabilities caps = smtp::parse_ehlo(lines);
    if (caps.max_size) FUZZ_CHECK(*caps.max_size > 0 && caps.size, "SIZE limit without SIZE, or zero");
    for (const auto& mech : caps.auth) {
        FUZZ_CHECK(!mech.empty() && mech.find_first_of(" =") == std::string::npos, "AUTH mechanism with space or =");
        for (char c : mech) FUZZ_CHECK(!std::islower(static_cast<unsigned char>(c)), "AUTH mechanism not upper-cased");
    }
    const std::string best = smtp::strongest_auth(caps);
    FUZZ_CHECK(best.empty() || caps.auth.count(best), "strongest AUTH not offered");

    if (!lines.empty()) {
        std::string challenge = lines[0];
        while (!challenge.empty() && (challenge.back() == '\n' || challenge.back() == '\r')) challenge.pop_back();
        if (auto answer = smtp::cram_md5_answer("kijitora", "secret", challenge)) {
            auto decoded = base64_decode(*answer);
            FUZZ_CHECK(decoded && decoded->starts_with("kijitora ") && decoded->size() == 9 + 32,
                       "CRAM-MD5 answer is not 'user hexdigest'");
        }
    }

    check_dot_stuffing(text, false);
    check_dot_stuffing(normalize_crlf(text), true);
    return 0;
}
