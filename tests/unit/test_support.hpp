// Helpers shared by the unit tests: temporary directories, line splitting, RFC 2047 decoding.
#pragma once
#include <iconv.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include <cctype>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.hpp"
#include "core/base64.hpp"

namespace haineko::test {

// A fresh directory under the system temp dir, removed again at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "haineko-unit-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // Writes ROOT/relative (creating directories) and returns the full path.
    std::string write(const std::string& relative, const std::string& content, int mode = 0600) const {
        std::filesystem::path p = std::filesystem::path(path_) / relative;
        std::filesystem::create_directories(p.parent_path());
        {
            std::ofstream out(p, std::ios::binary | std::ios::trunc);
            out << content;
        }
        ::chmod(p.c_str(), static_cast<mode_t>(mode));
        return p.string();
    }

private:
    std::string path_;
};

// Splits CRLF text into its lines (without the CRLF). A trailing CRLF gives no empty last line.
inline std::vector<std::string> crlf_lines(std::string_view text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find("\r\n", pos);
        if (eol == std::string_view::npos) {
            out.emplace_back(text.substr(pos));
            break;
        }
        out.emplace_back(text.substr(pos, eol - pos));
        pos = eol + 2;
    }
    return out;
}

// The product's own check (core/text), tested in text_test.cpp.
using haineko::is_valid_utf8;

// Converts text in charset to UTF-8 with iconv; nullopt when it is not valid in charset.
inline std::optional<std::string> to_utf8(std::string_view text, const std::string& charset) {
    iconv_t cd = ::iconv_open("UTF-8", charset.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
    std::string out(text.size() * 4 + 16, '\0');
    char* in = const_cast<char*>(text.data());
    size_t in_left = text.size();
    char* outp = out.data();
    size_t out_left = out.size();
    size_t r = ::iconv(cd, &in, &in_left, &outp, &out_left);
    ::iconv_close(cd);
    if (r == static_cast<size_t>(-1) || in_left != 0) return std::nullopt;
    out.resize(out.size() - out_left);
    return out;
}

struct EncodedWord {
    std::string charset;
    std::string raw;      // the whole "=?...?=" as written
    std::string decoded;  // the bytes in charset
};

// Finds every "=?charset?B?...?=" in text and base64-decodes each on its own.
inline std::vector<EncodedWord> find_encoded_words(std::string_view text) {
    std::vector<EncodedWord> out;
    size_t pos = 0;
    while ((pos = text.find("=?", pos)) != std::string_view::npos) {
        size_t q1 = text.find('?', pos + 2);
        if (q1 == std::string_view::npos || q1 + 2 >= text.size()) break;
        char enc = text[q1 + 1];
        if ((enc != 'B' && enc != 'b') || text[q1 + 2] != '?') {
            pos += 2;
            continue;
        }
        size_t end = text.find("?=", q1 + 3);
        if (end == std::string_view::npos) break;
        EncodedWord w;
        w.charset = std::string(text.substr(pos + 2, q1 - pos - 2));
        w.raw = std::string(text.substr(pos, end + 2 - pos));
        auto decoded = base64_decode(text.substr(q1 + 3, end - q1 - 3));
        w.decoded = decoded.value_or("\xff<bad base64>");
        out.push_back(std::move(w));
        pos = end + 2;
    }
    return out;
}

// The header lines of a message: everything before the first empty line.
inline std::vector<std::string> head_lines(std::string_view message) {
    size_t end = message.find("\r\n\r\n");
    return crlf_lines(message.substr(0, end == std::string_view::npos ? message.size() : end + 2));
}

// The body: everything after the first empty line.
inline std::string body_of(std::string_view message) {
    size_t end = message.find("\r\n\r\n");
    return end == std::string_view::npos ? std::string() : std::string(message.substr(end + 4));
}

// The unfolded value of the first header field called name (case-insensitive), or nullopt.
inline std::optional<std::string> header_value(std::string_view message, std::string_view name) {
    auto lines = head_lines(message);
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    std::string want = lower(std::string(name)) + ":";
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lower(lines[i].substr(0, want.size())) != want) continue;
        std::string value = lines[i].substr(want.size());
        for (size_t k = i + 1; k < lines.size() && !lines[k].empty() && (lines[k][0] == ' ' || lines[k][0] == '\t'); ++k)
            value += lines[k];
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        return value;
    }
    return std::nullopt;
}

inline int count_headers(std::string_view message, std::string_view name) {
    auto lines = head_lines(message);
    std::string want(name);
    want += ':';
    int n = 0;
    for (const auto& l : lines)
        if (l.size() >= want.size() && strncasecmp(l.c_str(), want.c_str(), want.size()) == 0) ++n;
    return n;
}

}  // namespace haineko::test
