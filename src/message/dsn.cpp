#include "message/dsn.hpp"

#include <random>

#include "core/text.hpp"
#include "message/builder.hpp"
#include "message/header.hpp"

namespace haineko {

namespace {

constexpr std::size_t kMaxDiagnostic = 900;  // within the 998-octet line with its label

std::string random_token() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) out += hex[rng() % 16];
    return out;
}

// One line of printable ASCII: a reply may hold anything.
std::string field_text(const std::string& text, std::size_t limit) {
    std::string out;
    for (unsigned char c : text) {
        if (out.size() >= limit) break;
        out += (c < 0x20 || c >= 0x7f) ? ' ' : static_cast<char>(c);
    }
    return std::string(trim(out));
}

std::string human_part(const DsnReport& r) {
    std::string text =
        "This is the mail system at host " + r.hostname + ".\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients. The delivery status\r\n"
        "report below says why, recipient by recipient.\r\n\r\n";
    for (const auto& f : r.recipients) {
        text += "<" + field_text(f.rcpt, 300) + ">";
        if (!f.remote_mta.empty()) text += ": host " + field_text(f.remote_mta, 255) + " said";
        text += ": " + field_text(f.diagnostic, kMaxDiagnostic) + "\r\n";
    }
    return text;
}

std::string status_part(const DsnReport& r) {
    std::string text = "Reporting-MTA: dns; " + r.hostname + "\r\n";
    if (!r.envid.empty()) text += "Original-Envelope-Id: " + field_text(r.envid, 100) + "\r\n";
    text += "X-Haineko-Queue-ID: " + field_text(r.queue_id, 64) + "\r\n";
    text += "Arrival-Date: " + rfc5322_date(r.arrival) + "\r\n";
    for (const auto& f : r.recipients) {
        text += "\r\n";
        if (!f.orcpt.empty()) text += "Original-Recipient: " + field_text(f.orcpt, 500) + "\r\n";
        text += "Final-Recipient: rfc822; " + field_text(f.rcpt, 300) + "\r\n";
        text += "Action: failed\r\n";
        text += "Status: " + field_text(f.status.empty() ? "5.0.0" : f.status, 16) + "\r\n";
        if (!f.remote_mta.empty()) text += "Remote-MTA: dns; " + field_text(f.remote_mta, 255) + "\r\n";
        text += "Diagnostic-Code: smtp; " + field_text(f.diagnostic, kMaxDiagnostic) + "\r\n";
    }
    return text;
}

}  // namespace

std::string header_section(const std::string& message) {
    const auto end = message.find("\r\n\r\n");
    return end == std::string::npos ? message : message.substr(0, end + 2);
}

BuiltDsn build_dsn(const DsnReport& r) {
    BuiltDsn dsn;
    const std::string token = random_token();
    dsn.message_id = "dsn." + token + "@" + r.hostname;
    const std::string boundary = "haineko-dsn-" + token;
    std::string& m = dsn.message;
    m += header_field("Date", rfc5322_date(r.now), "US-ASCII");
    m += header_field("From", "Mail Delivery System <MAILER-DAEMON@" + r.hostname + ">", "US-ASCII");
    m += header_field("To", r.to, "UTF-8");
    m += header_field("Subject", "Undelivered Mail Returned to Sender", "US-ASCII");
    m += header_field("Message-Id", "<" + dsn.message_id + ">", "US-ASCII");
    m += "Auto-Submitted: auto-replied\r\n";
    m += "MIME-Version: 1.0\r\n";
    m += "Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"" + boundary + "\"\r\n";
    m += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";
    m += "--" + boundary + "\r\nContent-Description: Notification\r\n";
    m += "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + human_part(r) + "\r\n";
    m += "--" + boundary + "\r\nContent-Description: Delivery report\r\n";
    m += "Content-Type: message/delivery-status\r\n\r\n" + status_part(r) + "\r\n";
    if (!r.original_message.empty()) {
        m += "--" + boundary + "\r\nContent-Description: Undelivered Message\r\n";
        m += "Content-Type: message/rfc822\r\n\r\n" + r.original_message;
        if (!r.original_message.ends_with("\r\n")) m += "\r\n";
    } else {
        m += "--" + boundary + "\r\nContent-Description: Undelivered Message Headers\r\n";
        m += "Content-Type: text/rfc822-headers\r\n\r\n" + r.original_header + "\r\n";
    }
    m += "--" + boundary + "--\r\n";
    return dsn;
}

}  // namespace haineko
