#include "relay/smtp/smtp_text.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>

#include "core/base64.hpp"
#include "core/text.hpp"

namespace haineko::smtp {
namespace {

std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '=')) ++i;
        size_t start = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '=') ++i;
        if (i > start) out.emplace_back(s.substr(start, i - start));
    }
    return out;
}

}  // namespace

Capabilities parse_ehlo(const std::vector<std::string>& lines) {
    Capabilities caps;
    for (size_t n = 1; n < lines.size(); ++n) {  // the first line is the greeting
        std::string_view line = lines[n];
        if (line.size() < 4) continue;
        auto w = words(line.substr(4));
        if (w.empty()) continue;
        std::string keyword = to_upper(w[0]);
        if (keyword == "PIPELINING") caps.pipelining = true;
        else if (keyword == "STARTTLS") caps.starttls = true;
        else if (keyword == "8BITMIME") caps.eight_bit_mime = true;
        else if (keyword == "DSN") caps.dsn = true;
        else if (keyword == "SIZE") {
            caps.size = true;
            if (w.size() > 1) {
                try {
                    std::size_t v = std::stoull(w[1]);
                    if (v > 0) caps.max_size = v;
                } catch (...) {
                }
            }
        } else if (keyword == "AUTH") {
            for (size_t i = 1; i < w.size(); ++i) caps.auth.insert(to_upper(w[i]));
        }
    }
    return caps;
}

std::string strongest_auth(const Capabilities& caps) {
    for (const char* mech : {"CRAM-MD5", "LOGIN", "PLAIN"})
        if (caps.auth.count(mech)) return mech;
    return {};
}

std::string auth_plain_token(std::string_view user, std::string_view password) {
    std::string raw;
    raw += '\0';
    raw += user;
    raw += '\0';
    raw += password;
    return base64_encode(raw);
}

std::optional<std::string> cram_md5_answer(std::string_view user, std::string_view password,
                                           std::string_view challenge_b64) {
    auto challenge = base64_decode(challenge_b64);
    if (!challenge) return std::nullopt;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_md5(), password.data(), static_cast<int>(password.size()),
              reinterpret_cast<const unsigned char*>(challenge->data()), challenge->size(), mac, &len))
        return std::nullopt;
    static const char* hex = "0123456789abcdef";
    std::string answer(user);
    answer += ' ';
    for (unsigned i = 0; i < len; ++i) {
        answer += hex[mac[i] >> 4];
        answer += hex[mac[i] & 15];
    }
    return base64_encode(answer);
}

std::string dot_stuffed(std::string_view message) {
    std::string out;
    out.reserve(message.size() + message.size() / 64 + 8);
    // Line by line: a line that starts with "." gets another in front.
    std::size_t i = 0;
    while (i < message.size()) {
        if (message[i] == '.') out += '.';
        const std::size_t lf = message.find('\n', i);
        if (lf == std::string_view::npos) {
            out.append(message.substr(i));
            out += "\r\n";
            break;
        }
        out.append(message.substr(i, lf + 1 - i));
        i = lf + 1;
    }
    out += ".\r\n";
    return out;
}

}  // namespace haineko::smtp

namespace haineko::smtp {

std::optional<RawReply> ReplyParser::next() {
    for (;;) {
        const std::size_t eol = inbox_.find('\n');
        if (eol == std::string::npos) {
            if (inbox_.size() > kMaxReplyLine) throw std::runtime_error("reply line is too long");
            return std::nullopt;
        }
        if (eol > kMaxReplyLine) throw std::runtime_error("reply line is too long");
        std::string line = inbox_.substr(0, eol);
        inbox_.erase(0, eol + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto digit = [&](std::size_t i) { return std::isdigit(static_cast<unsigned char>(line[i])) != 0; };
        if (line.size() < 3 || !digit(0) || !digit(1) || !digit(2) || (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
            throw std::runtime_error("not an SMTP reply: " + line.substr(0, 100));
        const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (!partial_.lines.empty() && code != partial_.code)
            throw std::runtime_error("a reply changed its code in mid-reply: " + line.substr(0, 100));
        partial_.code = code;
        const bool last = line.size() == 3 || line[3] == ' ';
        partial_.lines.push_back(std::move(line));
        if (last) {
            RawReply done = std::move(partial_);
            partial_ = RawReply{};
            return done;
        }
        if (partial_.lines.size() >= kMaxReplyLines) throw std::runtime_error("reply has too many lines");
    }
}

}  // namespace haineko::smtp
