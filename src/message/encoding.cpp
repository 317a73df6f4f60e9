#include "message/encoding.hpp"

#include <cstring>

#include "core/base64.hpp"

namespace haineko {

std::string normalize_crlf(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32 + 2);
    // Whole runs between line ends are copied at once; only the ends are rewritten. Text
    // without CR (the usual case) needs only a search for each LF.
    const char* p = text.data();
    const char* const end = p + text.size();
    if (!std::memchr(p, '\r', text.size())) {
        while (p < end) {
            const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
            if (!lf) {
                out.append(p, static_cast<std::size_t>(end - p));
                break;
            }
            out.append(p, static_cast<std::size_t>(lf - p));
            out += "\r\n";
            p = lf + 1;
        }
        p = end;
    }
    while (p < end) {
        const char* run = p;
        while (p < end && *p != '\n' && *p != '\r') ++p;
        out.append(run, static_cast<std::size_t>(p - run));
        if (p == end) break;
        out += "\r\n";
        p += (*p == '\r' && p + 1 < end && p[1] == '\n') ? 2 : 1;
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
    return out;
}

std::string base64_body(std::string_view data) {
    std::string encoded = base64_encode(data);
    std::string out;
    out.reserve(encoded.size() + encoded.size() / 76 * 2 + 2);
    for (size_t i = 0; i < encoded.size(); i += 76) {
        out.append(encoded, i, 76);
        out += "\r\n";
    }
    return out;
}

std::string quoted_printable(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() * 3 / 2);
    size_t line_start = 0;
    while (line_start < text.size()) {
        size_t eol = text.find("\r\n", line_start);
        bool has_eol = eol != std::string_view::npos;
        std::string_view line = text.substr(line_start, has_eol ? eol - line_start : std::string_view::npos);
        size_t col = 0;
        for (size_t i = 0; i < line.size(); ++i) {
            unsigned char c = static_cast<unsigned char>(line[i]);
            bool last = i + 1 == line.size();
            std::string piece;
            if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
                piece = static_cast<char>(c);
            } else {
                piece = {'=', hex[c >> 4], hex[c & 15]};
            }
            if (col + piece.size() > 75) {  // soft break keeps lines at 76 with the "="
                out += "=\r\n";
                col = 0;
            }
            out += piece;
            col += piece.size();
        }
        if (has_eol) out += "\r\n";
        line_start = has_eol ? eol + 2 : text.size();
    }
    return out;
}

std::size_t longest_line(std::string_view text) {
    std::size_t longest = 0, start = 0;
    while (start < text.size()) {
        size_t eol = text.find("\r\n", start);
        size_t len = (eol == std::string_view::npos ? text.size() : eol) - start;
        if (len > longest) longest = len;
        if (eol == std::string_view::npos) break;
        start = eol + 2;
    }
    return longest;
}

}  // namespace haineko
