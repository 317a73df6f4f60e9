#include "message/mime_reader.hpp"

#include <cctype>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/base64.hpp"
#include "core/text.hpp"
#include "message/charset.hpp"
#include "message/entity.hpp"

namespace haineko {

namespace {

constexpr int kMaxDepth = 8;
constexpr std::size_t kMaxParts = 200;

std::string percent_decoded(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// A structured field's value: "type/subtype; name=value; name*=UTF-8''..." as the
// lower-case value and its parameters, RFC 2231 pieces joined and decoded.
struct Structured {
    std::string value;
    std::map<std::string, std::string> params;
};

Structured parse_structured(std::string_view text) {
    Structured out;
    std::vector<std::string> pieces;
    std::string current;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quoted && c == '\\' && i + 1 < text.size()) {
            current += text[++i];
            continue;
        }
        if (c == '"') {
            quoted = !quoted;
            continue;
        }
        if (c == ';' && !quoted) {
            pieces.push_back(current);
            current.clear();
            continue;
        }
        current += c;
    }
    pieces.push_back(current);
    out.value = to_lower(trim(pieces.front()));
    // RFC 2231: name*0*=, name*1= ... (in order), or name*=charset'lang'percent-encoded.
    std::map<std::string, std::map<int, std::pair<bool, std::string>>> extended;
    for (std::size_t i = 1; i < pieces.size(); ++i) {
        const std::string_view piece = trim(pieces[i]);
        const auto eq = piece.find('=');
        if (eq == std::string_view::npos) continue;
        std::string name = to_lower(trim(piece.substr(0, eq)));
        std::string value(trim(piece.substr(eq + 1)));
        const auto star = name.find('*');
        if (star == std::string::npos) {
            out.params.emplace(name, value);
            continue;
        }
        const std::string base = name.substr(0, star);
        std::string rest = name.substr(star + 1);
        const bool encoded = !rest.empty() ? rest.back() == '*' : true;
        if (!rest.empty() && rest.back() == '*') rest.pop_back();
        int index = 0;
        if (!rest.empty()) {
            try {
                index = std::stoi(rest);
            } catch (...) {
                continue;
            }
        }
        extended[base][index] = {encoded, value};
    }
    for (const auto& [base, parts] : extended) {
        std::string charset, joined;
        for (const auto& [index, part] : parts) {
            std::string value = part.second;
            if (part.first && index == 0) {  // charset'language'value
                const auto a = value.find('\''), b = a == std::string::npos ? a : value.find('\'', a + 1);
                if (b != std::string::npos) {
                    charset = value.substr(0, a);
                    value = value.substr(b + 1);
                }
            }
            joined += part.first ? percent_decoded(value) : value;
        }
        if (auto utf8 = convert_to_utf8(joined, charset)) out.params[base] = *utf8;
    }
    return out;
}

std::string decoded_body(const Entity& e) {
    const std::string cte = to_lower(trim(e.field("content-transfer-encoding")));
    if (cte == "base64") return base64_decode(e.body).value_or(std::string(e.body));
    if (cte == "quoted-printable") return decode_quoted_printable(e.body);
    return std::string(e.body);
}

std::string without_crs(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i)
        if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) out += text[i];
    return out;
}

// The parts between "--boundary" lines, up to "--boundary--".
std::vector<std::string_view> split_multipart(std::string_view body, const std::string& boundary) {
    std::vector<std::string_view> parts;
    const std::string delimiter = "--" + boundary;
    std::size_t pos = 0;
    std::optional<std::size_t> part_start;
    while (pos <= body.size()) {
        std::size_t eol = body.find('\n', pos);
        const std::size_t line_end = eol == std::string_view::npos ? body.size() : eol;
        std::string_view line = body.substr(pos, line_end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.substr(0, delimiter.size()) == delimiter) {
            std::string_view after = trim(line.substr(delimiter.size()));
            if (after.empty() || after == "--") {
                if (part_start) {
                    // The line break before the delimiter belongs to the delimiter.
                    std::size_t end = pos;
                    if (end > *part_start && body[end - 1] == '\n') --end;
                    if (end > *part_start && body[end - 1] == '\r') --end;
                    parts.push_back(body.substr(*part_start, end - *part_start));
                }
                if (after == "--" || parts.size() >= kMaxParts) return parts;
                part_start = eol == std::string_view::npos ? body.size() : eol + 1;
            }
        }
        if (eol == std::string_view::npos) break;
        pos = eol + 1;
    }
    return parts;
}

void read_entity(const Entity& e, int depth, MimeContent& out) {
    Structured type = parse_structured(e.field("content-type"));
    if (type.value.empty()) type.value = "text/plain";
    if (type.value.rfind("multipart/", 0) == 0) {
        auto boundary = type.params.find("boundary");
        if (depth < kMaxDepth && boundary != type.params.end() && !boundary->second.empty()) {
            for (auto part : split_multipart(e.body, boundary->second)) read_entity(split_entity(part), depth + 1, out);
            return;
        }
    }
    const Structured disposition = parse_structured(e.field("content-disposition"));
    const bool attached = disposition.value == "attachment";
    std::string bytes = decoded_body(e);
    if (!attached && (type.value == "text/plain" || type.value == "text/html")) {
        std::optional<std::string>& slot = type.value == "text/plain" ? out.text : out.html;
        if (!slot) {
            auto charset = type.params.find("charset");
            if (auto utf8 = convert_to_utf8(bytes, charset == type.params.end() ? "" : charset->second)) {
                slot = without_crs(*utf8);
                return;
            }
        }
    }
    Attachment a;
    a.content_type = type.value;
    if (auto f = disposition.params.find("filename"); f != disposition.params.end())
        a.filename = f->second;
    else if (auto n = type.params.find("name"); n != type.params.end())
        a.filename = n->second;
    std::string cid(trim(e.field("content-id")));
    if (cid.size() >= 2 && cid.front() == '<' && cid.back() == '>') cid = cid.substr(1, cid.size() - 2);
    a.content_id = cid;
    a.content = std::move(bytes);
    out.attachments.push_back(std::move(a));
}

}  // namespace

std::string decode_quoted_printable(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '=') {
            out += text[i];
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '\n') {  // soft line break
            i += 1;
        } else if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
            i += 2;
        } else if (i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
            out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
            i += 2;
        } else {
            out += '=';
        }
    }
    return out;
}

ReadMessage read_message(std::string_view message) {
    ReadMessage out;
    const Entity top = split_entity(message);
    read_entity(top, 0, out.content);
    out.reply_to = top.field("reply-to");
    return out;
}

ReadMessage content_of(const Submission& submission, const BuiltMessage& message) {
    if (message.own_to) return read_message(message.head_before_to + message.head_after_to + message.body);
    ReadMessage out;
    out.content.text = submission.body;
    out.reply_to = submission.header.replyto;
    return out;
}

}  // namespace haineko
