// JSON text written straight into a string, for the answers made on every request: the
// text boost::json::serialize would make (same escapes, no spaces), without building a
// value first.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace haineko {

class JsonText {
public:
    JsonText& begin_object();
    JsonText& end_object();
    JsonText& begin_array();
    JsonText& end_array();
    JsonText& key(std::string_view name);
    JsonText& string(std::string_view value);
    JsonText& number(long long value);
    JsonText& null();
    JsonText& string_or_null(const std::optional<std::string>& value);
    JsonText& number_or_null(const std::optional<int>& value);

    const std::string& text() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void before_value();
    std::string out_;
    bool comma_ = false;  // a value before this one at the same level
};

// s as a JSON string, quotes included, escaped as boost::json escapes it; invalid UTF-8
// sequences become U+FFFD, so the text is always valid JSON.
void append_json_string(std::string& out, std::string_view s);

}  // namespace haineko
