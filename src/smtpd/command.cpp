#include "smtpd/command.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <set>
#include <utility>
#include <vector>

#include "core/address.hpp"

namespace haineko::smtpd {

namespace {

constexpr std::array<std::pair<std::string_view, Verb>, 13> kVerbs{{
    {"EHLO", Verb::ehlo}, {"HELO", Verb::helo}, {"MAIL", Verb::mail}, {"RCPT", Verb::rcpt},
    {"DATA", Verb::data}, {"BDAT", Verb::bdat}, {"RSET", Verb::rset}, {"NOOP", Verb::noop},
    {"QUIT", Verb::quit}, {"VRFY", Verb::vrfy}, {"HELP", Verb::help}, {"STARTTLS", Verb::starttls},
    {"AUTH", Verb::auth},
}};

std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

Refusal syntax(const char* usage) { return Refusal{501, "5.5.4", std::string("Syntax: ") + usage}; }

// "FROM:" or "TO:" (any case), spaces allowed after the colon as most servers do.
std::optional<std::string_view> after_keyword(std::string_view arg, std::string_view keyword) {
    if (arg.size() < keyword.size() || to_upper(arg.substr(0, keyword.size())) != keyword) return std::nullopt;
    return trim_spaces(arg.substr(keyword.size()));
}

struct Path {
    std::string address;
    std::string_view rest;  // the parameters after ">"
};

// "<...>" then the parameters. A source route (@a,@b:) is dropped, as RFC 5321 4.1.2 says.
std::optional<Path> split_path(std::string_view s) {
    if (s.empty() || s.front() != '<') return std::nullopt;
    bool quoted = false;
    std::size_t close = std::string_view::npos;
    for (std::size_t i = 1; i < s.size(); ++i) {
        if (quoted && s[i] == '\\') {
            ++i;
            continue;
        }
        if (s[i] == '"') quoted = !quoted;
        if (!quoted && s[i] == '>') {
            close = i;
            break;
        }
    }
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view inside = s.substr(1, close - 1);
    if (!inside.empty() && inside.front() == '@') {
        const auto colon = inside.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        inside.remove_prefix(colon + 1);
    }
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty() && rest.front() != ' ') return std::nullopt;  // "<a@b>x"
    return Path{std::string(inside), trim_spaces(rest)};
}

struct Param {
    std::string key;  // upper-cased
    std::optional<std::string> value;
};

std::optional<std::vector<Param>> split_params(std::string_view rest) {
    std::vector<Param> out;
    std::size_t pos = 0;
    while (pos < rest.size()) {
        if (rest[pos] == ' ') {
            ++pos;
            continue;
        }
        std::size_t end = rest.find(' ', pos);
        if (end == std::string_view::npos) end = rest.size();
        std::string_view word = rest.substr(pos, end - pos);
        const auto eq = word.find('=');
        Param p{to_upper(word.substr(0, eq)), std::nullopt};
        if (eq != std::string_view::npos) p.value = std::string(word.substr(eq + 1));
        if (p.key.empty()) return std::nullopt;
        for (char c : p.key)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return std::nullopt;
        out.push_back(std::move(p));
        pos = end;
    }
    return out;
}

std::optional<Refusal> duplicate_in(const std::vector<Param>& params) {
    std::set<std::string> seen;
    for (const auto& p : params)
        if (!seen.insert(p.key).second) return Refusal{501, "5.5.4", "Duplicate parameter " + p.key};
    return std::nullopt;
}

// "FROM:<path> params" or "TO:<path> params": the address and the parameters, each
// key once.
struct EnvelopeArg {
    std::string address;
    std::vector<Param> params;
};

std::variant<EnvelopeArg, Refusal> read_envelope_arg(std::string_view arg, std::string_view keyword,
                                                     const char* usage) {
    auto after = after_keyword(arg, keyword);
    if (!after) return syntax(usage);
    auto path = split_path(*after);
    if (!path) return syntax(usage);
    auto params = split_params(path->rest);
    if (!params) return syntax(usage);
    if (auto dup = duplicate_in(*params)) return *dup;
    return EnvelopeArg{std::move(path->address), std::move(*params)};
}

Refusal unsupported(const Param& p) { return Refusal{555, "5.5.4", "Unsupported option: " + p.key}; }
Refusal bad_value(const Param& p) { return Refusal{501, "5.5.4", "Bad parameter value: " + p.key}; }

// An address inside <>: an addr-spec, or with SMTPUTF8 one whose only fault is UTF-8.
std::optional<Refusal> address_refusal(const std::string& address, bool utf8, const char* dsn, const char* what) {
    if (is_email_address(address)) return std::nullopt;
    if (is_email_address_allowing_utf8(address)) {
        if (utf8) return std::nullopt;
        return Refusal{553, "5.6.7", std::string(what) + " address is not ASCII and SMTPUTF8 was not given"};
    }
    return Refusal{501, dsn, std::string("Bad ") + what + " address syntax"};
}

bool is_digits(const std::string& s, std::size_t max_len) {
    if (s.empty() || s.size() > max_len) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

Command parse_command(std::string_view line) {
    Command c;
    line = trim_spaces(line);
    const auto space = line.find(' ');
    c.name = to_upper(line.substr(0, space));
    if (space != std::string_view::npos) c.arg = std::string(trim_spaces(line.substr(space + 1)));
    for (const auto& [name, verb] : kVerbs)
        if (c.name == name) c.verb = verb;
    return c;
}

std::optional<std::string> decode_xtext(std::string_view text) {
    auto hex = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
        return -1;  // RFC 3461: upper-case hex only
    };
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const unsigned char ch = static_cast<unsigned char>(text[i]);
        if (ch == '+') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (ch < 33 || ch > 126 || ch == '=') {
            return std::nullopt;
        } else {
            out += static_cast<char>(ch);
        }
    }
    return out;
}

std::variant<MailFrom, Refusal> parse_mail_from(std::string_view arg) {
    auto read = read_envelope_arg(arg, "FROM:", "MAIL FROM:<address>");
    if (auto* refusal = std::get_if<Refusal>(&read)) return *refusal;
    auto& [address, params] = std::get<EnvelopeArg>(read);
    MailFrom m;
    m.address = std::move(address);
    for (const auto& p : params) {
        const std::string value = p.value.value_or("");
        if (p.key == "SIZE") {
            if (!is_digits(value, 20)) return bad_value(p);
            std::uint64_t n = 0;
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc()) return bad_value(p);
            m.size = n;
        } else if (p.key == "BODY") {
            const std::string body = to_upper(value);
            if (body == "8BITMIME")
                m.eight_bit = true;
            else if (body != "7BIT")
                return body == "BINARYMIME" ? unsupported(p) : bad_value(p);
        } else if (p.key == "SMTPUTF8") {
            if (p.value) return bad_value(p);
            m.smtputf8 = true;
        } else if (p.key == "RET") {
            const std::string ret = to_upper(value);
            if (ret != "FULL" && ret != "HDRS") return bad_value(p);
            m.ret = ret;
        } else if (p.key == "ENVID") {
            auto decoded = decode_xtext(value);
            if (!p.value || !decoded || value.size() > 100) return bad_value(p);
            m.envid = *decoded;
        } else if (p.key == "AUTH") {
            if (value == "<>") {
                m.auth = value;
                continue;
            }
            auto decoded = decode_xtext(value);
            if (!p.value || !decoded) return bad_value(p);
            m.auth = *decoded;
        } else {
            return unsupported(p);
        }
    }
    if (!m.address.empty())
        if (auto refused = address_refusal(m.address, m.smtputf8, "5.1.7", "sender")) return *refused;
    return m;
}

std::variant<RcptTo, Refusal> parse_rcpt_to(std::string_view arg, bool utf8) {
    auto read = read_envelope_arg(arg, "TO:", "RCPT TO:<address>");
    if (auto* refusal = std::get_if<Refusal>(&read)) return *refusal;
    auto& [address, params] = std::get<EnvelopeArg>(read);
    RcptTo r;
    r.address = std::move(address);
    for (const auto& p : params) {
        const std::string value = to_upper(p.value.value_or(""));
        if (p.key == "NOTIFY") {
            if (value != "NEVER") {
                std::set<std::string> seen;
                std::size_t pos = 0;
                while (pos <= value.size()) {
                    std::size_t comma = value.find(',', pos);
                    if (comma == std::string::npos) comma = value.size();
                    const std::string item = value.substr(pos, comma - pos);
                    if ((item != "SUCCESS" && item != "FAILURE" && item != "DELAY") || !seen.insert(item).second)
                        return bad_value(p);
                    pos = comma + 1;
                }
            }
            r.notify = value;
        } else if (p.key == "ORCPT") {
            const std::string raw = p.value.value_or("");
            const auto semi = raw.find(';');
            if (semi == std::string::npos || semi == 0) return bad_value(p);
            auto decoded = decode_xtext(std::string_view(raw).substr(semi + 1));
            if (!decoded || decoded->empty() || raw.size() > 500) return bad_value(p);
            r.orcpt = raw.substr(0, semi) + ";" + *decoded;
        } else {
            return unsupported(p);
        }
    }
    if (r.address.empty()) return Refusal{501, "5.1.3", "Bad recipient address syntax"};
    if (to_lower(r.address) == "postmaster") return r;  // RFC 5321 4.5.1: <Postmaster> needs no domain
    if (auto refused = address_refusal(r.address, utf8, "5.1.3", "recipient")) return *refused;
    return r;
}

}  // namespace haineko::smtpd
