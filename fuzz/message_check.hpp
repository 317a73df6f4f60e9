// What every message the builder writes must be, checked on the whole text of one
// recipient's copy. Returns the first broken rule, or nullopt. Shared by the fuzz targets
// (which crash on a problem) and tests/tools/message_dump.cpp (which reports it).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/submission.hpp"
#include "fuzz_support.hpp"

namespace haineko::fuzz {

// The fields the builder writes for s, in order.
inline std::vector<std::string> expected_header_names(const Submission& s) {
    std::vector<std::string> names{"Received"};
    for (size_t i = 0; i < s.header.received.size(); ++i) names.push_back("Received");
    for (const char* n : {"Date", "Message-Id", "MIME-Version", "From", "To"}) names.push_back(n);
    if (!s.header.replyto.empty()) names.push_back("Reply-To");
    names.push_back("Subject");
    const std::string from_address = s.header.from.empty() ? s.mail : address_in(s.header.from);
    if (to_lower(from_address) != to_lower(s.mail)) names.push_back("Sender");
    names.push_back("Content-Type");
    names.push_back("Content-Transfer-Encoding");
    if (!s.client.useragent.empty()) names.push_back("X-Mailer");
    names.push_back("X-SMTP-Engine");
    if (!s.client.referer.empty()) names.push_back("X-HTTP-Referer");
    names.push_back("X-Haineko-Loop");
    names.push_back("X-Originating-IP");
    return names;
}

// The "<...>" part address_field keeps as it is (control characters already spaces).
inline std::string angle_addr_of(std::string_view value) {
    size_t lt = value.rfind('<');
    if (lt == std::string_view::npos) return {};
    size_t gt = value.find('>', lt);
    if (gt == std::string_view::npos) return {};
    return std::string(value.substr(lt, gt - lt + 1));
}

inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }

inline std::optional<std::string> message_problem(std::string_view msg, const Submission& s) {
    // Line ends: CRLF only.
    for (size_t i = 0; i < msg.size(); ++i) {
        if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r')) return "bare LF at offset " + std::to_string(i);
        if (msg[i] == '\r' && (i + 1 >= msg.size() || msg[i + 1] != '\n'))
            return "bare CR at offset " + std::to_string(i);
    }
    size_t blank = msg.find("\r\n\r\n");
    if (blank == std::string_view::npos) return "no blank line between header and body";
    std::string_view head = msg.substr(0, blank + 2), body = msg.substr(blank + 4);
    if (body.empty() || !body.ends_with("\r\n")) return "the body does not end with CRLF";

    std::vector<std::string> names;
    std::string current;  // the field the line belongs to
    for (std::string_view line : crlf_lines(head)) {
        if (line.empty()) return "empty line inside the header section";
        if (is_wsp(line[0])) {
            if (names.empty()) return "the header section starts with a continuation line";
            bool only_wsp = true;
            for (char c : line) only_wsp = only_wsp && is_wsp(c);
            if (only_wsp)
                return "a continuation line of " + current + " holds only white space";
        } else {
            size_t colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0)
                return "header line is neither 'Name: value' nor a continuation: " + std::string(line.substr(0, 80));
            for (char c : line.substr(0, colon)) {
                unsigned char u = static_cast<unsigned char>(c);
                if (u < 33 || u > 126) return "header field name with a byte outside printable ASCII";
            }
            current = std::string(line.substr(0, colon));
            names.push_back(current);
        }
        // The builder keeps the address of From and Reply-To as it is (header.hpp), so
        // only there may a non-ASCII byte stand outside an encoded word.
        const std::string_view value_in = current == "From" ? std::string_view(s.header.from)
                                          : current == "Reply-To" ? std::string_view(s.header.replyto)
                                                                  : std::string_view();
        const std::string kept_addr = angle_addr_of(value_in);
        if (has_non_ascii(line) && !has_non_ascii(kept_addr)) return "a non-ASCII byte in the " + current + " field";
        if (line.size() > 998) return "header line of " + std::to_string(line.size()) + " octets in " + current;
    }
    auto expected = expected_header_names(s);
    if (names != expected) {
        std::string got, want;
        for (auto& n : names) got += n + ",";
        for (auto& n : expected) want += n + ",";
        return "header fields differ from what the builder writes: got " + got + " expected " + want;
    }

    // The body: lines within limits and fit for the declared encoding.
    std::string cte;
    for (std::string_view line : crlf_lines(head))
        if (line.starts_with("Content-Transfer-Encoding: ")) cte = std::string(line.substr(27));
    for (std::string_view line : crlf_lines(body)) {
        if (line.size() > 998) return "body line of " + std::to_string(line.size()) + " octets";
        if (cte == "base64" && line.size() > 76) return "base64 body line over 76 characters";
        if (cte == "quoted-printable" && line.size() > 76) return "quoted-printable body line over 76 characters";
    }
    if (body.find('\0') != std::string_view::npos) return "NUL in the body with encoding " + cte;
    if (cte != "8bit" && has_non_ascii(body)) return "non-ASCII body with encoding " + cte;
    if (cte == "base64")
        for (char c : body)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' || c == '\r' ||
                  c == '\n'))
                return "a byte outside the base64 alphabet in a base64 body";
    if (cte != "7bit" && cte != "8bit" && cte != "base64" && cte != "quoted-printable")
        return "unknown Content-Transfer-Encoding '" + cte + "'";
    return std::nullopt;
}

}  // namespace haineko::fuzz
