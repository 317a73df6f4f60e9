#include "message/received.hpp"

#include <vector>

#include "message/builder.hpp"
#include "message/header.hpp"

namespace haineko {

std::string printable_in_trace(std::string_view text) {
    std::string out;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 33 || u > 126 || c == '(' || c == ')' || c == ';') ? '?' : c;
    }
    return out.empty() ? "unknown" : out;
}

std::string address_literal(std::string_view address) {
    const std::string a(address);
    return a.find(':') == std::string::npos ? "[" + a + "]" : "[IPv6:" + a + "]";
}

namespace {

std::vector<std::string> clauses_of(const ReceivedTrace& t) {
    std::vector<std::string> out;
    out.push_back("from " + printable_in_trace(t.from) + " (" + address_literal(t.client_address) + ")");
    if (!t.tls_version.empty()) out.push_back("(using " + t.tls_version + " with cipher " + t.tls_cipher + ")");
    if (!t.auth_user.empty()) out.push_back("(Authenticated sender: " + printable_in_trace(t.auth_user) + ")");
    std::string by = "by " + t.by;
    if (!t.product.empty()) by += " (" + t.product + ")";
    out.push_back(by + " with " + t.with + " id " + t.id);
    if (!t.for_rcpt.empty()) out.push_back("for <" + t.for_rcpt + ">");
    out.back() += "; " + rfc5322_date(t.at);
    return out;
}

}  // namespace

std::string received_field(const ReceivedTrace& trace) {
    const std::vector<std::string> clauses = clauses_of(trace);
    std::string joined;
    for (const auto& c : clauses) joined += (joined.empty() ? "" : trace.clause_per_line ? "\r\n\t" : " ") + c;
    if (trace.clause_per_line) return "Received: " + joined + "\r\n";
    return header_field("Received", joined, "UTF-8");
}

std::string http_received_field(std::string_view from, const Submission& s, const std::string& hostname) {
    ReceivedTrace t;
    t.from = std::string(from);
    t.client_address = s.client.address;
    t.by = hostname;
    t.with = "HTTP";
    t.id = s.queueid;
    t.at = s.started;
    return received_field(t);
}

}  // namespace haineko
