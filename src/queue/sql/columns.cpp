#include "queue/sql/columns.hpp"

#include <boost/json.hpp>

namespace haineko::queue::sql {

namespace json = boost::json;

namespace {

// A column written by this file; anything else reads as empty rather than failing a
// status call.
json::value parsed(const std::string& column) {
    json::error_code ec;
    json::value v = json::parse(column, ec);
    return ec ? json::value() : v;
}

std::string string_of(const json::value* v) {
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::string tags_column(const std::vector<std::string>& tags) {
    if (tags.empty()) return "[]";
    json::array a;
    for (const auto& t : tags) a.emplace_back(t);
    return json::serialize(a);
}

std::vector<std::string> tags_from(const std::string& column) {
    std::vector<std::string> tags;
    if (column == "[]") return tags;
    const json::value v = parsed(column);
    if (!v.is_array()) return tags;
    for (const auto& t : v.get_array()) tags.push_back(string_of(&t));
    return tags;
}

std::string metadata_column(const std::vector<std::pair<std::string, std::string>>& metadata) {
    if (metadata.empty()) return "{}";
    json::object o;
    for (const auto& [k, v] : metadata) o[k] = v;
    return json::serialize(o);
}

std::vector<std::pair<std::string, std::string>> metadata_from(const std::string& column) {
    std::vector<std::pair<std::string, std::string>> metadata;
    if (column == "{}") return metadata;
    const json::value v = parsed(column);
    if (!v.is_object()) return metadata;
    for (const auto& kv : v.get_object()) metadata.emplace_back(std::string(kv.key()), string_of(&kv.value()));
    return metadata;
}

std::optional<std::string> reply_column(const std::optional<ReplyFacts>& reply) {
    if (!reply) return std::nullopt;
    json::array lines;
    for (const auto& line : reply->message) lines.emplace_back(line);
    json::object o{{"code", reply->code},     {"dsn", reply->dsn},   {"command", reply->command},
                   {"message", std::move(lines)}, {"host", reply->host}};
    return json::serialize(o);
}

std::optional<ReplyFacts> reply_from(const std::optional<std::string>& column) {
    if (!column) return std::nullopt;
    const json::value v = parsed(*column);
    if (!v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    ReplyFacts r;
    r.code = string_of(o.if_contains("code"));
    r.dsn = string_of(o.if_contains("dsn"));
    r.command = string_of(o.if_contains("command"));
    r.host = string_of(o.if_contains("host"));
    if (const auto* lines = o.if_contains("message"); lines && lines->is_array())
        for (const auto& line : lines->get_array()) r.message.push_back(string_of(&line));
    return r;
}

}  // namespace haineko::queue::sql
