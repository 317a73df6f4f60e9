#include "core/json_text.hpp"

#include "core/text.hpp"

namespace haineko {

void append_json_string(std::string& out, std::string_view raw) {
    static constexpr char hex[] = "0123456789abcdef";
    // Whatever it holds (a relay's reply, a provider's error), the text written is UTF-8.
    std::string repaired;
    std::string_view s = raw;
    if (!is_valid_utf8(raw)) s = repaired = repaired_utf8(raw);
    out += '"';
    std::size_t run = 0;  // start of the characters not yet copied
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.substr(run, i - run));
        run = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\f': out += "\\f"; break;
            case '\r': out += "\\r"; break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
        }
    }
    out.append(s.substr(run));
    out += '"';
}

void JsonText::before_value() {
    if (comma_) out_ += ',';
    comma_ = true;
}

JsonText& JsonText::begin_object() {
    before_value();
    out_ += '{';
    comma_ = false;
    return *this;
}

JsonText& JsonText::end_object() {
    out_ += '}';
    comma_ = true;
    return *this;
}

JsonText& JsonText::begin_array() {
    before_value();
    out_ += '[';
    comma_ = false;
    return *this;
}

JsonText& JsonText::end_array() {
    out_ += ']';
    comma_ = true;
    return *this;
}

JsonText& JsonText::key(std::string_view name) {
    before_value();
    append_json_string(out_, name);
    out_ += ':';
    comma_ = false;  // the value follows without a comma
    return *this;
}

JsonText& JsonText::string(std::string_view value) {
    before_value();
    append_json_string(out_, value);
    return *this;
}

JsonText& JsonText::number(long long value) {
    before_value();
    out_ += std::to_string(value);
    return *this;
}

JsonText& JsonText::null() {
    before_value();
    out_ += "null";
    return *this;
}

JsonText& JsonText::string_or_null(const std::optional<std::string>& value) {
    return value ? string(*value) : null();
}

JsonText& JsonText::number_or_null(const std::optional<int>& value) { return value ? number(*value) : null(); }

}  // namespace haineko
