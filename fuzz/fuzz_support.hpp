// Helpers shared by the fuzz targets: a check that stops the run with a message, UTF-8
// validation, CRLF line splitting and a throw-away HAINEKO_ROOT.
#pragma once
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "config/config.hpp"
#include "core/text.hpp"

// A broken invariant is a finding: say which, then crash so that libFuzzer keeps the input.
#define FUZZ_CHECK(cond, what)                                                                       \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            std::fprintf(stderr, "\nFUZZ_CHECK failed: %s\n  (%s) at %s:%d\n", (what), #cond, __FILE__, \
                         __LINE__);                                                                  \
            std::fflush(stderr);                                                                     \
            std::abort();                                                                            \
        }                                                                                            \
    } while (0)

namespace haineko::fuzz {

// A NaN or an infinity anywhere in a JSON value: what serializes to text that is not JSON.
inline bool has_non_finite(const boost::json::value& v) {
    if (v.is_double()) return !std::isfinite(v.get_double());
    if (v.is_array())
        for (const auto& item : v.get_array())
            if (has_non_finite(item)) return true;
    if (v.is_object())
        for (const auto& kv : v.get_object())
            if (has_non_finite(kv.value())) return true;
    return false;
}

// Whether text holds address as a whole, not as the tail or head of a longer one
// ("audit@example.jp" is not in "boaudit@example.jp"): neither neighbour is a character an
// address could go on with.
inline bool holds_whole_address(std::string_view text, std::string_view address) {
    const auto goes_on = [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) ||
               std::string_view("!#$%&'*+/=?^_`{|}~.-").find(ch) != std::string_view::npos;
    };
    if (address.empty()) return false;
    for (auto at = text.find(address); at != std::string_view::npos; at = text.find(address, at + 1)) {
        const auto end = at + address.size();
        if ((at == 0 || !goes_on(text[at - 1])) && (end == text.size() || !goes_on(text[end]))) return true;
    }
    return false;
}

// Skips for problems already found, so that a long run gets past them: a check that a
// known problem breaks is written
//     if (!fuzz::skipping("NAME")) FUZZ_CHECK(...);   // KNOWN-ISSUE(NAME): ... remove when fixed
// and is skipped only when HAINEKO_FUZZ_SKIP (NAME,NAME,...) names it. Nothing is skipped
// by default, so CI and scripts/fuzz.sh still find every known problem.
inline bool skipping(std::string_view issue) {
    static const std::string list = [] {
        const char* v = std::getenv("HAINEKO_FUZZ_SKIP");
        return "," + std::string(v ? v : "") + ",";
    }();
    return list.find("," + std::string(issue) + ",") != std::string::npos;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): the
// product's own check, which tests/unit/text_test.cpp holds to those rules.
using haineko::is_valid_utf8;

// CRLF text into lines without their CRLF; a trailing CRLF gives no empty last line.
inline std::vector<std::string_view> crlf_lines(std::string_view text) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find("\r\n", pos);
        if (eol == std::string_view::npos) {
            out.push_back(text.substr(pos));
            break;
        }
        out.push_back(text.substr(pos, eol - pos));
        pos = eol + 2;
    }
    return out;
}

// A HAINEKO_ROOT under the temp directory, for the life of the process; removed at exit.
class TempRoot {
public:
    TempRoot() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "haineko-fuzz-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempRoot() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempRoot(const TempRoot&) = delete;
    TempRoot& operator=(const TempRoot&) = delete;

    const std::string& path() const { return path_; }

    // Writes ROOT/relative (creating directories) and returns the full path.
    std::string write(const std::string& relative, std::string_view content, int mode = 0600) const {
        std::filesystem::path p = std::filesystem::path(path_) / relative;
        std::filesystem::create_directories(p.parent_path());
        {
            std::ofstream out(p, std::ios::binary | std::ios::trunc);
            out.write(content.data(), static_cast<std::streamsize>(content.size()));
        }
        ::chmod(p.c_str(), static_cast<mode_t>(mode));
        return p.string();
    }

    void remove(const std::string& relative) const {
        std::error_code ec;
        std::filesystem::remove(std::filesystem::path(path_) / relative, ec);
    }

private:
    std::string path_;
};

// The host name every fixed fuzz configuration uses.
inline constexpr const char* kFuzzHostname = "haineko.fuzz.example.net";

// A small fixed configuration as `hainekoctl setup` would leave it, but relaying to the
// Discard mailer: nothing leaves the process. extra_cf is appended under smtpd:.
inline std::shared_ptr<const Config> load_fixed_config(TempRoot& root, const std::string& extra_cf = "",
                                                       bool devel = false, bool basic_auth = false) {
    root.write("etc/haineko.cf", std::string("smtpd:\n    hostname: '") + kFuzzHostname +
                                     "'\n    max_message_size: 65536\n    max_rcpts_per_message: 4\n"
                                     "    max_workers: 2\n" + extra_cf);
    root.write("etc/mailertable",
               "# every domain goes nowhere\n"
               "default:\n    mailer: 'Discard'\n"
               "example.com:\n    mailer: 'Discard'\n    host: '192.0.2.25'\n    port: 2525\n");
    root.write("etc/recipients",
               "open-relay: 0\ndomainpart:\n    - 'example.jp'\n    - 'example.com'\n"
               "recipients:\n    - 'kijitora@example.org'\n");
    root.write("etc/relayhosts", "open-relay: 0\nrelayhosts:\n    - '127.0.0.1'\n    - '::1'\n    - '192.0.2.0/24'\n");
    // haineko / haineko: {SSHA} of "haineko" with salt "salt"
    root.write("etc/password", "haineko: '{SSHA}rT+wx6VC4NStO9D4VGNhpzAu0zRzYWx0'\n");
    Options options;
    options.root = root.path();
    options.devel = devel;
    if (basic_auth) options.auth_file = root.path() + "/etc/password";
    return load_config(options);
}

}  // namespace haineko::fuzz
