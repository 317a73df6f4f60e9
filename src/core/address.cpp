#include "core/address.hpp"

#include <cctype>
#include <cstdint>
#include <cstring>

namespace haineko {
namespace {

bool is_atext(unsigned char c, bool allow_utf8) {
    if (c >= 0x80) return allow_utf8;
    if (std::isalnum(c)) return true;
    return std::strchr("!#$%&'*+/=?^_`{|}~-", c) != nullptr && c != 0;
}

// dot-atom: atext+ ("." atext+)*; the original also let dots gather before "@", and
// real senders use such addresses, so a trailing-dot local part is accepted as there.
bool is_dot_atom(std::string_view s, bool allow_utf8, bool trailing_dots_ok) {
    if (s.empty() || s.front() == '.') return false;
    bool prev_dot = false;
    size_t end = s.size();
    if (trailing_dots_ok)
        while (end > 1 && s[end - 1] == '.') --end;
    for (size_t i = 0; i < end; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '.') {
            if (prev_dot) return false;
            prev_dot = true;
            continue;
        }
        if (!is_atext(c, allow_utf8)) return false;
        prev_dot = false;
    }
    return !prev_dot;
}

bool is_quoted_string(std::string_view s, bool allow_utf8) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\\') {
            // quoted-pairSMTP (RFC 5321 4.1.2): a backslash and one printable character;
            // an escaped byte is still a byte, and must pass the same ASCII rule.
            if (++i + 1 >= s.size()) return false;
            unsigned char escaped = static_cast<unsigned char>(s[i]);
            if (escaped == '<' || escaped == '>') return false;
            if (escaped >= 0x80 ? !allow_utf8 : (escaped < 0x20 || escaped == 0x7f)) return false;
            continue;
        }
        if (c == '"') return false;
        // Angle brackets are legal here but end the path for naive parsers: a relay
        // would read what follows as ESMTP parameters. Refuse them.
        if (c == '<' || c == '>') return false;
        if (c >= 0x80 && !allow_utf8) return false;
    }
    return true;
}

bool is_domain_literal(std::string_view s) {
    if (s.size() < 2 || s.front() != '[' || s.back() != ']') return false;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        // < and > end a path for naive parsers ("a@[x>NOTIFY=NEVER]" would smuggle an
        // ESMTP parameter into RCPT TO), so they are refused as in quoted local parts.
        if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\' || c == '<' || c == '>') return false;
    }
    return true;
}

bool check_address(std::string_view s, bool allow_utf8) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    if (!within_length_limits(s)) return false;
    size_t at = s.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == s.size()) return false;
    std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
    bool local_ok = is_dot_atom(local, allow_utf8, true) || is_quoted_string(local, allow_utf8);
    bool domain_ok = is_dot_atom(domain, allow_utf8, false) || is_domain_literal(domain);
    return local_ok && domain_ok;
}

bool is_ipv4_literal(std::string_view s) {
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    int parts = 0;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t dot = s.find('.', pos);
        std::string_view part = s.substr(pos, dot == std::string_view::npos ? s.npos : dot - pos);
        if (part.empty() || part.size() > 3) return false;
        int value = 0;
        for (char c : part) {
            if (!std::isdigit(static_cast<unsigned char>(c))) return false;
            value = value * 10 + (c - '0');
        }
        if (value > 255) return false;
        ++parts;
        if (dot == std::string_view::npos) break;
        pos = dot + 1;
    }
    return parts == 4;
}

}  // namespace

bool within_length_limits(std::string_view address) {
    constexpr std::size_t kLocalPart = 64, kDomain = 255, kPath = 256;
    size_t at = address.rfind('@');
    std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
    std::string_view domain = at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
    return local.size() <= kLocalPart && domain.size() <= kDomain && address.size() + 2 <= kPath;
}

bool has_non_ascii(std::string_view s) {
    // Eight bytes at a time: any high bit set in the word means a byte past ASCII.
    const char* p = s.data();
    std::size_t n = s.size();
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
        if (word & 0x8080808080808080ULL) return true;
    }
    for (; n > 0; ++p, --n)
        if (static_cast<unsigned char>(*p) >= 0x80) return true;
    return false;
}

bool is_email_address(std::string_view s) { return check_address(s, false); }

bool is_email_address_allowing_utf8(std::string_view s) { return check_address(s, true); }

bool is_valid_ehlo(std::string_view s) {
    if (s.empty() || s.size() > 255) return false;
    if (is_ipv4_literal(s)) return true;
    // [-0-9A-Za-z.]+ "." [A-Za-z]+ , as the original's is_domainpart
    size_t last_dot = s.rfind('.');
    if (last_dot == std::string_view::npos || last_dot == 0 || last_dot + 1 == s.size()) return false;
    for (size_t i = 0; i < last_dot; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (!std::isalnum(c) && c != '-' && c != '.') return false;
    }
    for (size_t i = last_dot + 1; i < s.size(); ++i)
        if (!std::isalpha(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

std::string domain_of(std::string_view address) {
    size_t at = address.rfind('@');
    if (at == std::string_view::npos) return {};
    return to_lower(address.substr(at + 1));
}

std::string address_in(std::string_view value) {
    size_t open = value.rfind('<');
    if (open != std::string_view::npos) {
        size_t close = value.find('>', open);
        if (close != std::string_view::npos) return std::string(value.substr(open + 1, close - open - 1));
    }
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
    return std::string(value);
}

}  // namespace haineko
