// The request body parser. Strict JSON first; failing that, the relaxed JSON the
// original's examples use: unquoted keys, 'single-quoted' strings, comments, trailing commas.
#pragma once
#include <boost/json.hpp>

#include <optional>
#include <string_view>

namespace haineko {

constexpr int kMaxJsonDepth = 32;

// nullopt when the text is neither strict nor relaxed JSON, nests deeper than
// kMaxJsonDepth, or holds invalid UTF-8.
// storage: where the value's memory comes from (a stack buffer for a request that lives
// only while it is checked).
std::optional<boost::json::value> parse_request_json(std::string_view text, boost::json::storage_ptr storage = {});

// Where the text stops being JSON, for the log: "line 3, column 7: syntax error" (the
// strict parser's view; the relaxed rewrite moves offsets). Empty when it is JSON.
std::string json_error_position(std::string_view text);

// The relaxed-to-strict rewrite on its own, for tests.
std::string relaxed_to_strict(std::string_view text);

}  // namespace haineko
