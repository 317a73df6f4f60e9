#include "http/relaxed_json.hpp"

#include <cstring>

namespace haineko {
namespace {

boost::json::parse_options strict_options() {
    boost::json::parse_options opt;
    opt.max_depth = kMaxJsonDepth;
    opt.allow_comments = true;
    opt.allow_trailing_commas = true;
    opt.allow_invalid_utf8 = false;
    return opt;
}

std::optional<boost::json::value> parse_strict(std::string_view text, boost::json::storage_ptr storage,
                                               bool* too_deep = nullptr) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec, std::move(storage), strict_options());
    if (too_deep) *too_deep = ec == boost::json::error::too_deep;
    if (ec) return std::nullopt;
    return v;
}

bool is_delimiter(char c) { return std::strchr("{}[]:,\"'", c) != nullptr || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_json_literal(std::string_view token) {
    if (token == "true" || token == "false" || token == "null") return true;
    // A JSON number: let the strict parser decide.
    boost::system::error_code ec;
    auto v = boost::json::parse(token, ec);
    return !ec && v.is_number();
}

void append_escaped(std::string& out, char c) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
}

}  // namespace

std::string relaxed_to_strict(std::string_view in) {
    std::string out;
    out.reserve(in.size() + 64);
    size_t i = 0;
    while (i < in.size()) {
        char c = in[i];
        if (c == '"') {  // copy a double-quoted string as it is
            out += c;
            ++i;
            while (i < in.size() && in[i] != '"') {
                if (in[i] == '\\' && i + 1 < in.size()) out += in[i++];
                out += in[i++];
            }
            if (i < in.size()) out += in[i++];
        } else if (c == '\'') {  // single-quoted string becomes double-quoted
            out += '"';
            ++i;
            while (i < in.size() && in[i] != '\'') {
                if (in[i] == '\\' && i + 1 < in.size()) {
                    if (in[i + 1] == '\'') {
                        out += '\'';
                    } else {
                        out += in[i];
                        out += in[i + 1];
                    }
                    i += 2;
                    continue;
                }
                append_escaped(out, in[i++]);
            }
            out += '"';
            if (i < in.size()) ++i;
        } else if (c == '/' && i + 1 < in.size() && (in[i + 1] == '/' || in[i + 1] == '*')) {
            if (in[i + 1] == '/') {
                while (i < in.size() && in[i] != '\n') ++i;
            } else {
                auto end = in.find("*/", i + 2);
                i = end == std::string_view::npos ? in.size() : end + 2;
            }
        } else if (is_delimiter(c)) {
            out += c;
            ++i;
        } else {  // a bare word: a literal, or a key or value to quote
            size_t start = i;
            while (i < in.size() && !is_delimiter(in[i])) ++i;
            std::string_view token = in.substr(start, i - start);
            if (is_json_literal(token)) {
                out += token;
            } else {
                out += '"';
                for (char t : token) append_escaped(out, t);
                out += '"';
            }
        }
    }
    return out;
}

std::string json_error_position(std::string_view text) {
    boost::json::stream_parser parser({}, strict_options());
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
    if (!ec) parser.finish(ec);
    if (!ec) return {};
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < consumed && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + ec.message();
}

std::optional<boost::json::value> parse_request_json(std::string_view text, boost::json::storage_ptr storage) {
    bool too_deep = false;
    if (auto strict = parse_strict(text, storage, &too_deep)) return strict;
    // Rewriting cannot make it shallower: a million brackets are refused without a rewrite.
    if (too_deep) return std::nullopt;
    return parse_strict(relaxed_to_strict(text), std::move(storage));
}

}  // namespace haineko
