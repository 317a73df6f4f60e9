// The body of POST /v1/messages: read_v1_message (strict JSON, every field checked), then,
// for a message it accepts, compose_message, which must make a well-formed RFC 5322
// message whatever the fields hold.
//
// What must hold: a refusal has a known code, a status of 400 or 413 and a message; an
// accepted message has at least one envelope recipient, each an ASCII address without
// < > CR LF, no more than the limit; the composed message has CRLF line ends only, no
// line over 998 octets, a header of "Name: value" lines and continuation lines that are
// not white space alone, then a blank line; no Bcc field, and no blind recipient's
// address anywhere in the header.
#include <cstdint>
#include <set>

#include "core/address.hpp"
#include "fuzz_support.hpp"
#include "http/v1_request.hpp"
#include "message/compose.hpp"

using namespace haineko;

namespace {

constexpr std::size_t kMaxRecipients = 8;

void check_problem(const V1Problem& p) {
    static const std::set<std::string> codes{"malformed-json", "invalid-field", "missing-field", "too-large"};
    FUZZ_CHECK(codes.count(p.code) == 1, "an unknown error code");
    FUZZ_CHECK(p.status == 400 || p.status == 413, "an error status other than 400 or 413");
    FUZZ_CHECK(!p.message.empty(), "an error without a message");
    FUZZ_CHECK(fuzz::is_valid_utf8(p.message) && fuzz::is_valid_utf8(p.field), "an error that is not UTF-8");
}

void check_header(std::string_view head) {
    for (auto line : fuzz::crlf_lines(head)) {
        if (line.empty()) continue;
        if (line[0] == ' ' || line[0] == '\t') {
            FUZZ_CHECK(line.find_first_not_of(" \t") != std::string_view::npos, "a continuation line of white space alone");
            continue;
        }
        const auto colon = line.find(':');
        FUZZ_CHECK(colon != std::string_view::npos && colon > 0, "a header line that is not Name: value");
        FUZZ_CHECK(to_lower(line.substr(0, colon)) != "bcc", "a Bcc field");
    }
}

void check_message(const V1Message& m, const std::string& text, const std::vector<std::string>& blind) {
    FUZZ_CHECK(text.find("\r\n\r\n") != std::string::npos, "no blank line after the header");
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') FUZZ_CHECK(i + 1 < text.size() && text[i + 1] == '\n', "a bare CR");
        if (text[i] == '\n') FUZZ_CHECK(i > 0 && text[i - 1] == '\r', "a bare LF");
    }
    for (auto line : fuzz::crlf_lines(text)) FUZZ_CHECK(line.size() <= 998, "a line over 998 octets");
    const std::string head = text.substr(0, text.find("\r\n\r\n") + 2);
    check_header(head);
    const std::string lower_head = to_lower(head);
    for (const auto& b : blind)
        FUZZ_CHECK(!fuzz::holds_whole_address(lower_head, to_lower(b)), "a Bcc address in the header");
    (void)m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body = fuzz::as_text(data, size);
    auto read = read_v1_message(body, kMaxRecipients);
    if (auto* p = std::get_if<V1Problem>(&read)) {
        check_problem(*p);
        return 0;
    }
    const V1Message& m = std::get<V1Message>(read);
    FUZZ_CHECK(!m.rcpts.empty() && m.rcpts.size() <= kMaxRecipients, "recipients out of bounds");
    for (const auto& r : m.rcpts) {
        FUZZ_CHECK(is_email_address(r) && !has_non_ascii(r), "an envelope recipient that is not an ASCII address");
        FUZZ_CHECK(r.find_first_of("<>\r\n") == std::string::npos, "a recipient with < > CR or LF");
    }
    FUZZ_CHECK(is_email_address(m.mail), "an envelope sender that is not an address");
    // Blind recipients: in the envelope, in no To or Cc.
    std::vector<std::string> blind;
    for (const auto& r : m.rcpts) {
        bool shown = false;
        for (const auto& v : m.to) shown |= to_lower(address_in(v)) == to_lower(r);
        for (const auto& v : m.cc) shown |= to_lower(address_in(v)) == to_lower(r);
        if (!shown && to_lower(r) != to_lower(m.from_address) && to_lower(r) != to_lower(address_in(m.reply_to)) &&
            to_lower(r) != to_lower(m.mail))
            blind.push_back(r);
    }
    Composition c = composition_of(m);
    c.hostname = fuzz::kFuzzHostname;
    c.message_id = "QZ7fuzz.1@haineko.fuzz.example.net";
    c.origin.queueid = "QZ7fuzzQ0000abcd";
    c.origin.started = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    c.origin.client.address = "192.0.2.1";
    c.origin.mail = m.mail;
    c.origin.header.loop = {fuzz::kFuzzHostname};
    // Header text the client wrote (extra fields, display names) may hold a blind address
    // on purpose: only an address Haineko itself put there would be a leak.
    bool blind_in_extra = false;
    for (const auto& [name, value] : m.headers)
        for (const auto& b : blind) blind_in_extra |= to_lower(value).find(to_lower(b)) != std::string::npos;
    std::string given = m.subject + m.from + m.reply_to;
    for (const auto& v : m.to) given += v;
    for (const auto& v : m.cc) given += v;
    for (const auto& [name, value] : m.headers) given += name + ":" + value;
    for (const auto& b : blind) blind_in_extra |= to_lower(given).find(to_lower(b)) != std::string::npos;
    check_message(m, compose_message(c), blind_in_extra ? std::vector<std::string>{} : blind);
    return 0;
}
