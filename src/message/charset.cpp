#include "message/charset.hpp"

#include <iconv.h>

#include <cerrno>
#include <vector>

#include "core/address.hpp"

namespace haineko {

std::string canonical_charset(std::string_view requested) {
    const std::string upper = to_upper(requested);
    if (upper == "ISO-2022-JP" || upper == "ISO-8859-1" || upper == "US-ASCII") return upper;
    return "UTF-8";
}

std::size_t utf8_sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xe) return 3;
    if ((lead >> 3) == 0x1e) return 4;
    return 1;
}

namespace {

// bytes from one charset to another through iconv; nullopt when a character has no place
// in `to` or the bytes are not `from`.
std::optional<std::string> iconv_convert(std::string_view bytes, const std::string& from, const std::string& to) {
    iconv_t cd = ::iconv_open(to.c_str(), from.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
    std::string out;
    std::vector<char> buffer(4096);
    char* in = const_cast<char*>(bytes.data());
    size_t in_left = bytes.size();
    bool ok = true;
    while (in_left > 0) {
        char* outp = buffer.data();
        size_t out_left = buffer.size();
        size_t r = ::iconv(cd, &in, &in_left, &outp, &out_left);
        out.append(buffer.data(), static_cast<size_t>(outp - buffer.data()));
        if (r == static_cast<size_t>(-1) && errno != E2BIG) {
            ok = false;
            break;
        }
    }
    if (ok) {  // a null input flushes the shift state (ESC ( B for ISO-2022-JP)
        char* outp = buffer.data();
        size_t out_left = buffer.size();
        if (::iconv(cd, nullptr, nullptr, &outp, &out_left) == static_cast<size_t>(-1)) ok = false;
        out.append(buffer.data(), static_cast<size_t>(outp - buffer.data()));
    }
    ::iconv_close(cd);
    if (!ok) return std::nullopt;
    return out;
}

}  // namespace

std::optional<std::string> convert_from_utf8(std::string_view utf8, std::string_view charset) {
    if (charset == "UTF-8") return std::string(utf8);
    if (charset == "US-ASCII") {
        if (has_non_ascii(utf8)) return std::nullopt;
        return std::string(utf8);
    }
    return iconv_convert(utf8, "UTF-8", std::string(charset));
}

std::optional<std::string> convert_to_utf8(std::string_view bytes, std::string_view charset) {
    const std::string upper = to_upper(charset);
    if (upper.empty() || upper == "US-ASCII" || upper == "UTF-8" || upper == "UTF8") {
        if (!has_non_ascii(bytes)) return std::string(bytes);
        if (is_valid_utf8(bytes)) return std::string(bytes);
        return std::nullopt;
    }
    return iconv_convert(bytes, upper, "UTF-8");
}

}  // namespace haineko
