#include "http/v1_request.hpp"

#include <boost/json.hpp>

#include <set>

#include "core/address.hpp"
#include "core/base64.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

namespace haineko {

namespace {

namespace json = boost::json;

// A fault found while reading; thrown inside this file only, and answered as V1Problem.
struct Fault {
    V1Problem problem;
};

[[noreturn]] void invalid(const std::string& field, const std::string& message) {
    throw Fault{{400, "invalid-field", message, field}};
}

[[noreturn]] void missing(const std::string& field, const std::string& message) {
    throw Fault{{400, "missing-field", message, field}};
}

std::string trim_copy(std::string_view s) { return std::string(trim(s)); }

const json::value* member(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}

std::string string_field(const json::value& v, const std::string& field) {
    if (!v.is_string()) invalid(field, field + " must be a string");
    std::string s(v.get_string());
    if (!is_valid_utf8(s)) invalid(field, field + " is not valid UTF-8");
    return s;
}

std::optional<std::string> optional_string(const json::object& o, std::string_view key) {
    const json::value* v = member(o, key);
    if (!v) return std::nullopt;
    return string_field(*v, std::string(key));
}

// "Name <addr>" or "addr": the address, which must be one.
std::string address_of(const std::string& value, const std::string& field) {
    if (value.find_first_of("\r\n") != std::string::npos) invalid(field, field + " holds a line break");
    const std::string address = address_in(value);
    if (has_non_ascii(address)) invalid(field, field + ": the address is not ASCII: " + address);
    if (!is_email_address(address)) invalid(field, field + " is not an email address: " + address);
    return address;
}

// A string or an array of strings, each "Name <addr>" or "addr".
std::vector<std::string> address_list(const json::object& o, const char* key) {
    std::vector<std::string> out;
    const json::value* v = member(o, key);
    if (!v) return out;
    if (v->is_string()) {
        out.push_back(trim_copy(string_field(*v, key)));
        address_of(out.back(), key);
        return out;
    }
    if (!v->is_array()) invalid(key, std::string(key) + " must be a string or an array of strings");
    const auto& a = v->get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string field = std::string(key) + "[" + std::to_string(i) + "]";
        out.push_back(trim_copy(string_field(a[i], field)));
        address_of(out.back(), field);
    }
    return out;
}

// Local part as written, domain lower-cased: two spellings of one mailbox are one.
std::string mailbox_key(const std::string& address) {
    const auto at = address.rfind('@');
    return address.substr(0, at) + "@" + to_lower(address.substr(at + 1));
}

void add_envelope(V1Message& m, std::set<std::string>& seen, const std::vector<std::string>& values, const char* key) {
    for (std::size_t i = 0; i < values.size(); ++i) {
        const std::string address = address_in(values[i]);
        if (!seen.insert(mailbox_key(address)).second) continue;
        m.rcpts.push_back(address);
        // Indexed even for a single value: the contract names a recipient "to[N]".
        m.rcpt_fields.push_back(std::string(key) + "[" + std::to_string(i) + "]");
    }
}

void read_recipients(const json::object& o, V1Message& m, std::size_t max_recipients) {
    m.to = address_list(o, "to");
    m.cc = address_list(o, "cc");
    const std::vector<std::string> bcc = address_list(o, "bcc");
    std::set<std::string> seen;
    if (const json::value* r = member(o, "rcpt")) {
        if (!r->is_array()) invalid("rcpt", "rcpt must be an array of strings");
        std::vector<std::string> rcpt;
        const auto& a = r->get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string field = "rcpt[" + std::to_string(i) + "]";
            rcpt.push_back(trim_copy(string_field(a[i], field)));
            address_of(rcpt.back(), field);
        }
        add_envelope(m, seen, rcpt, "rcpt");
    } else {
        add_envelope(m, seen, m.to, "to");
        add_envelope(m, seen, m.cc, "cc");
        add_envelope(m, seen, bcc, "bcc");
    }
    if (m.rcpts.empty()) missing("to", "at least one recipient is required (to, cc, bcc or rcpt)");
    if (m.rcpts.size() > max_recipients)
        throw Fault{{413, "too-large",
                     std::to_string(m.rcpts.size()) + " recipients; at most " + std::to_string(max_recipients), "to"}};
}

Attachment attachment_from(const json::value& v, const std::string& field) {
    if (!v.is_object()) invalid(field, field + " must be an object");
    const auto& o = v.get_object();
    Attachment a;
    a.filename = one_line(optional_string(o, "filename").value_or(""));
    if (a.filename.size() > kMaxFilenameLength) invalid(field + ".filename", "a file name is at most 255 octets");
    a.content_type = optional_string(o, "content_type").value_or("");
    if (!a.content_type.empty() && !is_media_type(a.content_type))
        invalid(field + ".content_type", "content_type must be type/subtype: " + a.content_type);
    a.content_id = optional_string(o, "content_id").value_or("");
    if (a.content_id.size() > 255 || a.content_id.find_first_of("<> \t\r\n") != std::string::npos || has_non_ascii(a.content_id))
        invalid(field + ".content_id", "content_id must be ASCII without spaces or angle brackets");
    const json::value* content = member(o, "content");
    if (!content) missing(field + ".content", field + ".content (base64) is required");
    auto bytes = base64_decode(string_field(*content, field + ".content"));
    if (!bytes) invalid(field + ".content", field + ".content is not base64");
    a.content = std::move(*bytes);
    return a;
}

void read_content(const json::object& o, V1Message& m) {
    m.content.text = optional_string(o, "text");
    m.content.html = optional_string(o, "html");
    if (const json::value* list = member(o, "attachments")) {
        if (!list->is_array()) invalid("attachments", "attachments must be an array");
        const auto& a = list->get_array();
        if (a.size() > kMaxAttachments) invalid("attachments", "at most 100 attachments");
        for (std::size_t i = 0; i < a.size(); ++i)
            m.content.attachments.push_back(attachment_from(a[i], "attachments[" + std::to_string(i) + "]"));
    }
    if (!m.content.text && !m.content.html && m.content.attachments.empty())
        missing("text", "text, html or attachments is required");
    if (auto charset = optional_string(o, "charset")) m.content.charset = *charset;
}

void read_headers(const json::object& o, V1Message& m) {
    const json::value* v = member(o, "headers");
    if (!v) return;
    if (!v->is_object()) invalid("headers", "headers must be an object of strings");
    const auto& h = v->get_object();
    if (h.size() > kMaxHeaders) invalid("headers", "at most 64 headers");
    for (const auto& kv : h) {
        const std::string name(kv.key());
        const std::string field = "headers." + name;
        if (!is_field_name(name)) invalid(field, "not a header field name: " + name);
        if (!is_settable_header(name)) invalid(field, name + " is written by Haineko and cannot be set");
        std::string value = string_field(kv.value(), field);
        if (value.find_first_of("\r\n") != std::string::npos) invalid(field, field + " holds a line break");
        if (value.size() > kMaxHeaderValueLength) invalid(field, field + " is longer than 998 octets");
        m.headers.emplace_back(name, std::move(value));
    }
}

void read_labels(const json::object& o, V1Message& m) {
    if (const json::value* t = member(o, "tags")) {
        if (!t->is_array()) invalid("tags", "tags must be an array of strings");
        const auto& a = t->get_array();
        if (a.size() > kMaxTags) invalid("tags", "at most 32 tags");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string field = "tags[" + std::to_string(i) + "]";
            m.tags.push_back(string_field(a[i], field));
            if (m.tags.back().size() > kMaxTagLength) invalid(field, "a tag is at most 128 octets");
        }
    }
    if (const json::value* md = member(o, "metadata")) {
        if (!md->is_object()) invalid("metadata", "metadata must be an object of strings");
        const auto& obj = md->get_object();
        if (obj.size() > kMaxMetadataKeys) invalid("metadata", "at most 32 metadata keys");
        for (const auto& kv : obj) {
            const std::string key(kv.key());
            const std::string field = "metadata." + key;
            if (key.empty() || key.size() > kMaxMetadataKeyLength || !is_valid_utf8(key))
                invalid(field, "a metadata key is 1 to 64 octets of UTF-8");
            m.metadata.emplace_back(key, string_field(kv.value(), field));
            if (m.metadata.back().second.size() > kMaxMetadataValueLength)
                invalid(field, "a metadata value is at most 1024 octets");
        }
    }
}

V1Message read_fields(const json::object& o, std::size_t max_recipients) {
    V1Message m;
    const auto from = optional_string(o, "from");
    if (!from || trim(*from).empty()) missing("from", "from is required");
    m.from = trim_copy(*from);
    m.from_address = address_of(m.from, "from");
    if (auto reply_to = optional_string(o, "reply_to")) {
        m.reply_to = trim_copy(*reply_to);
        if (!m.reply_to.empty()) address_of(m.reply_to, "reply_to");
    }
    m.subject = one_line(optional_string(o, "subject").value_or(""));
    if (auto mail = optional_string(o, "mail"))
        m.mail = address_of(trim_copy(*mail), "mail");
    else
        m.mail = m.from_address;
    read_recipients(o, m, max_recipients);
    read_content(o, m);
    read_headers(o, m);
    if (auto send_at = optional_string(o, "send_at")) {
        m.send_at = parse_rfc3339(*send_at);
        if (!m.send_at) invalid("send_at", "send_at must be an RFC 3339 time, such as 2026-11-23T12:00:00Z");
    }
    read_labels(o, m);
    return m;
}

}  // namespace

Composition composition_of(const V1Message& m) {
    Composition c;
    c.from = m.from;
    c.to = m.to;
    c.cc = m.cc;
    c.reply_to = m.reply_to;
    c.subject = m.subject;
    c.headers = m.headers;
    c.content = m.content;
    return c;
}

bool is_field_name(std::string_view name) {
    if (name.empty() || name.size() > 76) return false;
    for (unsigned char c : name)
        if (c < 33 || c > 126 || c == ':') return false;
    return true;
}

bool is_settable_header(std::string_view name) {
    static const std::set<std::string> written{"from",   "to",        "cc",       "bcc",         "date",
                                               "message-id", "mime-version", "received", "return-path", "subject",
                                               "reply-to",   "sender",       "x-haineko-loop"};
    const std::string lower = to_lower(name);
    return !written.count(lower) && !lower.starts_with("content-");
}

std::variant<V1Message, V1Problem> read_v1_message(std::string_view body, std::size_t max_recipients) {
    json::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return V1Problem{400, "malformed-json", "the body is not JSON: " + ec.message(), ""};
    if (!v.is_object()) return V1Problem{400, "malformed-json", "the body must be a JSON object", ""};
    try {
        return read_fields(v.get_object(), max_recipients);
    } catch (const Fault& f) {
        return f.problem;
    }
}

}  // namespace haineko
