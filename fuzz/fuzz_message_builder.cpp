// build_message, header_field and address_field with fuzzed fields (message_fields.hpp).
// Every recipient's copy must be a well-formed RFC 5322 message with exactly the header
// fields the builder writes: no CR or LF of a value may start a field of its own.
#include <cstdint>

#include "config/config.hpp"
#include "message/builder.hpp"
#include "message/charset.hpp"
#include "message/header.hpp"
#include "message_check.hpp"
#include "message_fields.hpp"

using namespace haineko;

namespace {

// One header field on its own: one "Name:" line, CRLF line ends, continuation lines that
// start with white space and hold something else too, lines within 998 octets.
void check_field(std::string_view name, const std::string& field, std::string_view raw_value, bool address) {
    FUZZ_CHECK(field.starts_with(std::string(name) + ":"), "field does not start with its name");
    FUZZ_CHECK(field.ends_with("\r\n"), "field does not end with CRLF");
    auto lines = fuzz::crlf_lines(field);
    FUZZ_CHECK(!lines.empty(), "no line");
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\n') FUZZ_CHECK(i > 0 && field[i - 1] == '\r', "bare LF in a field");
        if (field[i] == '\r') FUZZ_CHECK(i + 1 < field.size() && field[i + 1] == '\n', "bare CR in a field");
    }
    const std::string kept = address ? fuzz::angle_addr_of(raw_value) : std::string();
    for (size_t i = 0; i < lines.size(); ++i) {
        auto line = lines[i];
        if (i > 0) {
            FUZZ_CHECK(!line.empty() && fuzz::is_wsp(line[0]), "continuation line without leading white space");
            FUZZ_CHECK(line.find_first_not_of(" \t") != std::string_view::npos, "continuation line of white space only");
        }
        FUZZ_CHECK(line.size() <= 998, "field line over 998 octets");
        if (!has_non_ascii(kept)) FUZZ_CHECK(!has_non_ascii(line), "non-ASCII byte outside an encoded word");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Config config = [] {
        Config c;
        c.smtpd.hostname = fuzz::kFuzzHostname;
        return c;
    }();
    const auto fields = fuzz::split_message_fields(fuzz::as_text(data, size));
    const Submission s = fuzz::submission_from(fields, config.smtpd.hostname);

    // The field writers on their own, with the charset the builder would pick for the
    // fuzzed one (callers pass canonical names only).
    const std::string charset = canonical_charset(fields.charset);
    check_field("Subject", header_field("Subject", fields.subject, charset), fields.subject, false);
    check_field("X-Mailer", header_field("X-Mailer", fields.useragent, "UTF-8"), fields.useragent, false);
    check_field("From", address_field("From", fields.from, charset), fields.from, true);
    check_field("Reply-To", address_field("Reply-To", fields.replyto, charset), fields.replyto, true);

    // The whole message, as each recipient gets it.
    BuiltMessage m = build_message(s, config);
    const std::string rcpt = s.rcpt.front();
    const std::string message = m.for_recipient(rcpt);
    FUZZ_CHECK(message.size() == m.size_for(rcpt), "size_for is not the size of the message");
    if (auto problem = fuzz::message_problem(message, s)) {
        std::fprintf(stderr, "message problem: %s\n", problem->c_str());
        FUZZ_CHECK(false, "built message breaks RFC 5322");
    }
    // A relay without 8BITMIME gets the 8bit body as base64: still a sound message.
    if (m.eight_bit()) {
        BuiltMessage seven = m.seven_bit_copy();
        FUZZ_CHECK(!seven.eight_bit() && seven.transfer_encoding == "base64", "seven_bit_copy keeps 8bit");
        if (auto problem = fuzz::message_problem(seven.for_recipient(rcpt), s)) {
            std::fprintf(stderr, "message problem (7bit copy): %s\n", problem->c_str());
            FUZZ_CHECK(false, "7bit copy breaks RFC 5322");
        }
    }
    return 0;
}
