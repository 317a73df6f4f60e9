#include "message/mime.hpp"

#include "core/address.hpp"
#include "core/text.hpp"
#include "message/charset.hpp"
#include "message/encoding.hpp"

namespace haineko {

namespace {

bool is_token_char(unsigned char c) {
    static const std::string_view specials = "()<>@,;:\\\"/[]?=";
    return c > 0x20 && c < 0x7f && specials.find(static_cast<char>(c)) == std::string_view::npos;
}

// A text part: in the asked charset when it can hold the text, quoted-printable or base64
// as is smaller.
MimeEntity text_part(const std::string& utf8, const std::string& subtype, const std::string& requested) {
    const std::string crlf = normalize_crlf(utf8);
    std::string charset = canonical_charset(requested);
    std::optional<std::string> bytes = convert_from_utf8(crlf, charset);
    if (!bytes) {
        charset = "UTF-8";
        bytes = crlf;
    }
    std::string qp = quoted_printable(*bytes);
    std::string b64 = base64_body(*bytes);
    const bool use_qp = qp.size() <= b64.size();
    MimeEntity part;
    part.header = "Content-Type: text/" + subtype + "; charset=\"" + charset + "\"\r\n" +
                  "Content-Transfer-Encoding: " + (use_qp ? "quoted-printable" : "base64") + "\r\n";
    part.body = use_qp ? std::move(qp) : std::move(b64);
    return part;
}

// "name=value" as a quoted string for ASCII, or RFC 2231's name*=UTF-8''percent-encoded.
std::string parameter(const std::string& name, const std::string& raw) {
    const std::string value = one_line(raw);
    if (!has_non_ascii(value)) {
        std::string quoted = "\"";
        for (char c : value) {
            if (c == '"' || c == '\\') quoted += '\\';
            quoted += c;
        }
        return name + "=" + quoted + "\"";
    }
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string encoded = name + "*=UTF-8''";
    for (unsigned char c : value) {
        if (is_token_char(c) && c != '*' && c != '\'' && c != '%') {
            encoded += static_cast<char>(c);
        } else {
            encoded += '%';
            encoded += hex[c >> 4];
            encoded += hex[c & 15];
        }
    }
    return encoded;
}

MimeEntity attachment_part(const Attachment& a) {
    const std::string type = a.content_type.empty() ? "application/octet-stream" : to_lower(a.content_type);
    MimeEntity part;
    part.header = "Content-Type: " + type;
    if (!a.filename.empty()) part.header += ";\r\n " + parameter("name", a.filename);
    part.header += "\r\nContent-Transfer-Encoding: base64\r\n";
    part.header += a.content_id.empty() ? "Content-Disposition: attachment" : "Content-Disposition: inline";
    if (!a.filename.empty()) part.header += ";\r\n " + parameter("filename", a.filename);
    part.header += "\r\n";
    if (!a.content_id.empty()) part.header += "Content-ID: <" + one_line(a.content_id) + ">\r\n";
    part.body = base64_body(a.content);
    return part;
}

MimeEntity multipart(const std::string& subtype, const std::vector<MimeEntity>& parts, const std::string& boundary) {
    MimeEntity whole;
    whole.header = "Content-Type: multipart/" + subtype + ";\r\n boundary=\"" + boundary + "\"\r\n";
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1): without one of
    // its own, a text part would lose its last line break, or run into the delimiter.
    for (const auto& p : parts) whole.body += "--" + boundary + "\r\n" + p.header + "\r\n" + p.body + "\r\n";
    whole.body += "--" + boundary + "--\r\n";
    return whole;
}

}  // namespace

bool is_media_type(const std::string& text) {
    const auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size() || text.size() > 255) return false;
    for (size_t i = 0; i < text.size(); ++i)
        if (i != slash && !is_token_char(static_cast<unsigned char>(text[i]))) return false;
    return true;
}

MimeEntity build_mime(const MimeContent& c, const std::string& seed) {
    // Boundaries hold "=_", which quoted-printable and base64 never write at a line start.
    // RFC 2046 boundaries are at most 70 characters.
    auto boundary = [&seed](const char* level) { return "=_haineko_" + std::string(level) + "_" + seed.substr(0, 48); };
    std::vector<MimeEntity> texts;
    if (c.text) texts.push_back(text_part(*c.text, "plain", c.charset));
    if (c.html) texts.push_back(text_part(*c.html, "html", c.charset));
    std::vector<MimeEntity> inlines, attached;
    for (const auto& a : c.attachments)
        (!a.content_id.empty() && c.html ? inlines : attached).push_back(attachment_part(a));

    std::optional<MimeEntity> body;
    if (texts.size() == 2)
        body = multipart("alternative", texts, boundary("alt"));
    else if (texts.size() == 1)
        body = texts.front();
    if (body && !inlines.empty()) {
        inlines.insert(inlines.begin(), *body);
        body = multipart("related", inlines, boundary("rel"));
    }
    if (attached.empty()) return body ? *body : text_part("", "plain", c.charset);
    if (body) attached.insert(attached.begin(), *body);
    return multipart("mixed", attached, boundary("mix"));
}

}  // namespace haineko
