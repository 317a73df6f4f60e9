// What an SMTP client sends to the SMTP server: every line through parse_command, and
// MAIL and RCPT arguments through their parsers (nothing may escape; a refusal has a
// 4xx/5xx code and an enhanced code of its class); and the bytes as DATA content, whole
// and in pieces. The DataReader must give the same result however the bytes arrive, end
// only at CRLF "." CRLF, keep no bare CR or LF unnoted, and, when the content was clean,
// read the relay's dot-stuffing of what it kept back as the same message. And the same
// bytes as a whole session through the Session state machine: every answer well formed,
// and a commit only with recipients, within the limits, past AUTH where it is needed, and
// of a message without a bare CR or LF.
#include <algorithm>
#include <cctype>
#include <cstdint>

#include "fuzz_support.hpp"
#include "relay/smtp/smtp_text.hpp"
#include "smtpd/command.hpp"
#include "smtpd/data_reader.hpp"
#include "smtpd/session.hpp"

using namespace haineko;
using namespace haineko::smtpd;

namespace {

void check_refusal(const Refusal& r) {
    FUZZ_CHECK(r.code >= 400 && r.code <= 599, "refusal code out of range");
    FUZZ_CHECK(!r.dsn.empty() && r.dsn[0] == static_cast<char>('0' + r.code / 100), "enhanced code of another class");
    FUZZ_CHECK(!r.text.empty(), "refusal without text");
}

void check_commands(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        const std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        const Command c = parse_command(line);
        FUZZ_CHECK(c.arg.size() <= line.size(), "argument longer than the line");
        if (c.verb == Verb::mail) {
            auto m = parse_mail_from(c.arg);
            if (auto* r = std::get_if<Refusal>(&m)) check_refusal(*r);
            else FUZZ_CHECK(std::get<MailFrom>(m).address.size() <= line.size(), "sender longer than the line");
        }
        if (c.verb == Verb::rcpt) {
            for (bool utf8 : {false, true}) {
                auto r = parse_rcpt_to(c.arg, utf8);
                if (auto* refusal = std::get_if<Refusal>(&r)) check_refusal(*refusal);
                else FUZZ_CHECK(!std::get<RcptTo>(r).address.empty(), "an empty recipient accepted");
            }
        }
    }
}

void check_data(std::string_view bytes, std::size_t piece) {
    DataReader whole;
    const std::size_t used = whole.feed(bytes);
    DataReader parts;
    std::size_t used_parts = 0;
    for (std::size_t pos = 0; pos < bytes.size() && !parts.done(); pos += piece)
        used_parts += parts.feed(bytes.substr(pos, std::min(piece, bytes.size() - pos)));
    FUZZ_CHECK(used == used_parts && whole.done() == parts.done(), "the end depends on how the bytes arrive");
    FUZZ_CHECK(whole.message() == parts.message() && whole.bare_line_end() == parts.bare_line_end(),
               "the message depends on how the bytes arrive");
    if (whole.done()) {
        FUZZ_CHECK(bytes.substr(0, used).ends_with("\r\n.\r\n") || bytes.substr(0, used) == ".\r\n",
                   "DATA ended elsewhere than at CRLF.CRLF");
    } else {
        FUZZ_CHECK(used == bytes.size(), "bytes left before the end");
    }
    if (!whole.bare_line_end()) {
        const std::string& m = whole.message();
        for (std::size_t i = 0; i < m.size(); ++i) {
            if (m[i] == '\r') FUZZ_CHECK(i + 1 < m.size() && m[i + 1] == '\n', "a bare CR kept unnoted");
            if (m[i] == '\n') FUZZ_CHECK(i > 0 && m[i - 1] == '\r', "a bare LF kept unnoted");
        }
        if (whole.done()) {
            // What the relay would send of it reads back as the same message (a client
            // may put a dot before a line that needed none: that dot is not kept).
            const std::string again = smtp::dot_stuffed(m);
            FUZZ_CHECK(again.size() <= used, "stuffing the message again makes it longer than it came");
            DataReader back;
            FUZZ_CHECK(back.feed(again) == again.size() && back.done(), "the stuffed message does not end where it should");
            FUZZ_CHECK(back.message() == m && !back.bare_line_end(), "the stuffed message reads back otherwise");
        }
    }
}

// Every answer is whole reply lines: three digits, then " " or "-" (only "-" before the
// last), CRLF-ended.
void check_answer(const std::string& answer) {
    std::size_t pos = 0;
    while (pos < answer.size()) {
        const std::size_t eol = answer.find("\r\n", pos);
        FUZZ_CHECK(eol != std::string::npos, "an answer line without CRLF");
        const std::string_view l(answer.data() + pos, eol - pos);
        FUZZ_CHECK(l.size() >= 4 && std::isdigit(static_cast<unsigned char>(l[0])) &&
                       std::isdigit(static_cast<unsigned char>(l[1])) && std::isdigit(static_cast<unsigned char>(l[2])),
                   "an answer line without a code");
        const bool last = eol + 2 == answer.size();
        FUZZ_CHECK(l[3] == (last ? ' ' : '-'), "continuation marks of an answer");
        FUZZ_CHECK(l.find('\r') == std::string_view::npos && l.find('\n') == std::string_view::npos,
                   "a line break inside an answer line");
        pos = eol + 2;
    }
}

// A whole session: lines are commands, DATA and BDAT take what follows as content.
void check_session(std::string_view text, std::uint8_t flags) {
    SessionSettings settings;
    settings.hostname = "mx.example.jp";
    settings.submission = flags & 1;
    settings.max_message_size = (flags & 2) ? 64 : 0;
    settings.max_rcpts = 3;
    settings.tls_offered = flags & 4;
    settings.auth_offered = true;
    settings.auth_requires_tls = flags & 8;
    SessionPolicy policy;
    policy.client_may_relay = flags & 16;
    policy.rcpt_refusal = [](const std::string& rcpt) -> std::optional<Refusal> {
        if (rcpt.starts_with("no")) return Refusal{553, "5.7.1", "Recipient address is not permitted"};
        return std::nullopt;
    };
    policy.verify = [](const std::string& user, const std::string& password) { return user == "u" && password == "p"; };
    Session session(settings, policy);
    check_answer(session.greeting());
    std::size_t pos = 0;
    for (int turns = 0; pos < text.size() && turns < 200; ++turns) {
        std::size_t eol = text.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = text.size();
        const std::string_view line = text.substr(pos, eol - pos);
        pos = std::min(text.size(), eol + 2);
        Session::Step step = session.on_line(line, line.size() + 2 > kMaxCommandLine);
        check_answer(step.answer);
        if (step.next == Session::Next::data) {
            DataReader reader(settings.max_message_size);
            pos += reader.feed(text.substr(pos));
            if (!reader.done()) return;
            step = session.on_data(reader);
        } else if (step.next == Session::Next::chunk) {
            const std::size_t n = std::min(session.chunk_size(), text.size() - pos);
            step = session.on_chunk(text.substr(pos, n));
            pos += n;
        } else if (step.next == Session::Next::start_tls) {
            session.on_tls_started();
        }
        check_answer(step.answer);
        if (step.next == Session::Next::commit) {
            const Envelope& e = session.envelope();
            FUZZ_CHECK(!e.rcpts.empty() && e.rcpts.size() <= settings.max_rcpts, "a commit without recipients, or too many");
            FUZZ_CHECK(!settings.submission || !e.auth_user.empty(), "a submission-mode commit without AUTH");
            FUZZ_CHECK(policy.client_may_relay || !e.auth_user.empty(), "a relay commit for a client that may not relay");
            FUZZ_CHECK(settings.max_message_size == 0 || session.message().size() <= settings.max_message_size,
                       "a commit of a message over the limit");
            for (std::size_t i = 0; i < session.message().size(); ++i) {
                const char c = session.message()[i];
                if (c == '\n') FUZZ_CHECK(i > 0 && session.message()[i - 1] == '\r', "a committed message with a bare LF");
                if (c == '\r')
                    FUZZ_CHECK(i + 1 < session.message().size() && session.message()[i + 1] == '\n',
                               "a committed message with a bare CR");
            }
            check_answer((flags & 32) ? session.on_committed("kANQ1").answer : session.on_commit_failed().answer);
        }
        if (step.next == Session::Next::close) return;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text = fuzz::as_text(data + 1, size - 1);
    check_commands(text);
    check_data(text, 1 + data[0] % 13);
    check_session(text, data[0]);
    return 0;
}
