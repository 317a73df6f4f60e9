// What an SMTP client sends to the SMTP server: every line through parse_command, and
// MAIL and RCPT arguments through their parsers (nothing may escape; a refusal has a
// 4xx/5xx code and an enhanced code of its class); and the bytes as DATA content, whole
// and in pieces. The DataReader must give the same result however the bytes arrive, end
// only at CRLF "." CRLF, keep no bare CR or LF unnoted, and, when the content was clean,
// read the relay's dot-stuffing of what it kept back as the same message.
#include <cstdint>

#include "fuzz_support.hpp"
#include "relay/smtp/smtp_text.hpp"
#include "smtpd/command.hpp"
#include "smtpd/data_reader.hpp"

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text = fuzz::as_text(data + 1, size - 1);
    check_commands(text);
    check_data(text, 1 + data[0] % 13);
    return 0;
}
