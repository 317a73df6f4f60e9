#include "message/compose.hpp"

#include <random>

#include "core/address.hpp"
#include "message/builder.hpp"
#include "message/charset.hpp"
#include "message/header.hpp"
#include "message/received.hpp"

namespace haineko {

namespace {

// An address list on continuation lines, each address as address_field writes it alone.
std::string address_list_field(const std::string& name, const std::vector<std::string>& values,
                               const std::string& charset) {
    std::string out = name + ":";
    for (std::size_t i = 0; i < values.size(); ++i) {
        std::string one = address_field(name, values[i], charset);
        one = one.substr(name.size() + 2, one.size() - name.size() - 4);  // "Name: " ... CRLF
        out += (i == 0 ? " " : ",\r\n ") + one;
    }
    return out + "\r\n";
}

}  // namespace

std::string queued_message_id(const std::string& id, const std::string& hostname) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return id + "." + std::to_string(rng() % 1000000) + "@" + hostname;
}

std::string compose_message(const Composition& c) {
    const Submission& s = c.origin;
    const std::string cs = canonical_charset(c.content.charset);
    const std::string date = rfc5322_date(s.started);
    std::string m;
    m += http_received_field(address_literal(s.client.address), s, c.hostname);
    m += header_field("Date", date, cs);
    m += header_field("Message-Id", "<" + c.message_id + ">", cs);
    m += "MIME-Version: 1.0\r\n";
    m += address_field("From", c.from, cs);
    if (!c.to.empty()) m += address_list_field("To", c.to, cs);
    if (!c.cc.empty()) m += address_list_field("Cc", c.cc, cs);
    if (c.to.empty() && c.cc.empty()) m += "To: undisclosed-recipients:;\r\n";
    if (!c.reply_to.empty()) m += address_field("Reply-To", c.reply_to, cs);
    m += header_field("Subject", c.subject, cs);
    if (to_lower(address_in(c.from)) != to_lower(s.mail)) m += address_field("Sender", s.mail, cs);
    for (const auto& [name, value] : c.headers) m += header_field(name, value, cs);
    for (const auto& [name, value] : trace_headers(s)) m += header_field(name, value, "UTF-8");
    const MimeEntity body = build_mime(c.content, s.queueid);
    m += body.header;
    m += "\r\n";
    m += body.body;
    return m;
}

}  // namespace haineko
