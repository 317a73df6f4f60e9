#include "message/builder.hpp"

#include <unistd.h>

#include <ctime>
#include <random>

#include "core/address.hpp"
#include "message/charset.hpp"
#include "message/encoding.hpp"
#include "message/header.hpp"
#include "message/received.hpp"

namespace haineko {
namespace {

constexpr std::size_t kMaxLine = 998;

struct EncodedBody {
    std::string charset;
    std::string encoding;
    std::string text;
};

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Picks the charset and transfer encoding, falling back to UTF-8 when the requested
// charset cannot hold the text.
EncodedBody encode_body(const std::string& utf8_body, const std::string& requested) {
    std::string crlf = normalize_crlf(utf8_body);
    std::string charset = canonical_charset(requested);
    std::optional<std::string> converted = convert_from_utf8(crlf, charset);
    if (!converted) {
        charset = "UTF-8";
        converted = crlf;
    }
    const bool eight_bit = has_non_ascii(*converted);
    const bool long_lines = longest_line(*converted) > kMaxLine;
    EncodedBody out{charset, "7bit", {}};
    if (charset == "ISO-8859-1" && eight_bit) {
        out.encoding = "quoted-printable";
    } else if (has_nul(*converted) || (eight_bit && long_lines) ||
               (charset == "ISO-2022-JP" && long_lines)) {
        out.encoding = "base64";
    } else if (long_lines) {
        out.encoding = "quoted-printable";
    } else if (eight_bit) {
        out.encoding = "8bit";
    }
    if (out.encoding == "base64")
        out.text = base64_body(*converted);
    else if (out.encoding == "quoted-printable")
        out.text = quoted_printable(*converted);
    else
        out.text = std::move(*converted);
    return out;
}

std::string make_message_id(const Submission& s, const Config& config) {
    thread_local std::mt19937 rng{std::random_device{}()};
    static const int pid = static_cast<int>(::getpid());  // first built after any fork: ours
    auto epoch = std::chrono::duration_cast<std::chrono::seconds>(s.started.time_since_epoch()).count();
    char buf[96];
    std::snprintf(buf, sizeof buf, ".%d.%lld.%03d@", pid, static_cast<long long>(epoch),
                  static_cast<int>(rng() % 100));
    return s.queueid + buf + config.smtpd.hostname;
}

}  // namespace

std::string rfc5322_date(std::chrono::system_clock::time_point when) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    localtime_r(&t, &tm);
    static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    long offset = tm.tm_gmtoff / 60;
    char sign = offset < 0 ? '-' : '+';
    if (offset < 0) offset = -offset;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, offset / 60,
                  offset % 60);
    return buf;
}

std::string BuiltMessage::for_recipient(const std::string& rcpt) const {
    std::string out;
    out.reserve(size_for(rcpt));
    out += head_before_to;
    if (!own_to) out += to_field(rcpt);
    out += head_after_to;
    out += body;
    return out;
}

std::string BuiltMessage::to_field(const std::string& rcpt) { return header_field("To", rcpt, "UTF-8"); }

std::size_t BuiltMessage::size_for(const std::string& rcpt) const {
    return head_before_to.size() + (own_to ? 0 : to_field(rcpt).size()) + head_after_to.size() + body.size();
}

BuiltMessage BuiltMessage::seven_bit_copy() const {
    BuiltMessage copy = *this;
    if (!eight_bit()) return copy;
    const std::string from = "Content-Transfer-Encoding: 8bit\r\n";
    auto pos = copy.head_after_to.find(from);
    if (pos != std::string::npos)
        copy.head_after_to.replace(pos, from.size(), "Content-Transfer-Encoding: base64\r\n");
    copy.transfer_encoding = "base64";
    copy.body = base64_body(raw_body);
    copy.raw_body.clear();
    return copy;
}

BuiltMessage built_from_bytes(const std::string& message_id, const std::string& bytes) {
    BuiltMessage m;
    m.own_to = true;
    m.message_id = message_id;
    m.transfer_encoding = has_non_ascii(bytes) ? "8bit" : "7bit";
    const auto blank = bytes.find("\r\n\r\n");
    const size_t split = blank == std::string::npos ? bytes.size() : blank + 2;
    m.head_before_to = bytes.substr(0, split);
    m.head_after_to = "\r\n";
    m.body = blank == std::string::npos ? std::string() : bytes.substr(split + 2);
    if (m.eight_bit()) m.raw_body = m.body;
    return m;
}

std::string to_line_for(const BuiltMessage& message, const std::vector<std::string>& rcpts) {
    if (message.own_to || rcpts.size() != 1) return {};
    return BuiltMessage::to_field(rcpts.front());
}

BuiltMessage build_message(const Submission& s, const Config& config) {
    BuiltMessage m;
    EncodedBody body = encode_body(s.body, s.header.charset);
    m.charset = body.charset;
    m.transfer_encoding = body.encoding;
    m.body = std::move(body.text);
    if (m.eight_bit()) m.raw_body = m.body;
    m.message_id = make_message_id(s, config);
    const std::string& cs = m.charset;
    const std::string date = rfc5322_date(s.started);
    const std::string& hostname = config.smtpd.hostname;

    std::string& a = m.head_before_to;
    a += http_received_field(s.ehlo, s, hostname);
    for (const auto& r : s.header.received) a += header_field("Received", r, "UTF-8");
    a += header_field("Date", date, cs);
    a += header_field("Message-Id", "<" + m.message_id + ">", cs);
    a += "MIME-Version: 1.0\r\n";
    a += address_field("From", s.header.from.empty() ? s.mail : s.header.from, cs);

    std::string& b = m.head_after_to;
    if (!s.header.replyto.empty()) b += address_field("Reply-To", s.header.replyto, cs);
    b += header_field("Subject", s.header.subject, cs);
    // RFC 5322 3.6.2: Sender names the mailbox that sent the message when it is not the author.
    const std::string from_address = s.header.from.empty() ? s.mail : address_in(s.header.from);
    if (to_lower(from_address) != to_lower(s.mail)) b += address_field("Sender", s.mail, cs);
    b += "Content-Type: text/plain; charset=\"" + cs + "\"\r\n";
    b += "Content-Transfer-Encoding: " + m.transfer_encoding + "\r\n";
    for (const auto& [name, value] : trace_headers(s)) b += header_field(name, value, "UTF-8");
    b += "\r\n";
    return m;
}

}  // namespace haineko
