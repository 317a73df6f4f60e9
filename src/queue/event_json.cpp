#include "queue/event_json.hpp"

#include "core/time.hpp"

namespace haineko::queue {

namespace json = boost::json;

json::value time_or_null(const std::optional<Millis>& t) {
    return t ? json::value(rfc3339(*t)) : json::value(nullptr);
}

json::object reply_json(const ReplyFacts& r) {
    json::array lines;
    for (const auto& l : r.message) lines.emplace_back(l);
    return {{"code", r.code}, {"dsn", r.dsn}, {"command", r.command}, {"message", std::move(lines)}, {"host", r.host}};
}

json::array tags_json(const std::vector<std::string>& tags) {
    json::array a;
    for (const auto& t : tags) a.emplace_back(t);
    return a;
}

json::object metadata_json(const std::vector<std::pair<std::string, std::string>>& metadata) {
    json::object o;
    for (const auto& [k, v] : metadata) o[k] = v;
    return o;
}

namespace {

// A plugin's event keeps its fields in the reply's places (sql/rows.cpp, insert_message).
void add_plugin_note(json::object& o, const Event& e) {
    const ReplyFacts& r = *e.reply;
    o["plugin"] = r.command;
    o["hook"] = r.dsn;
    o["answer"] = r.code;
    o["text"] = r.message.empty() ? std::string() : r.message.front();
}

}  // namespace

json::object event_json(const Event& e, bool feed) {
    json::object o{{"seq", e.seq}, {"at", rfc3339(e.at)}, {"type", e.type}};
    if (e.type == "plugin" && e.reply) {
        add_plugin_note(o, e);
        if (feed) {
            o["id"] = e.id;
            o["rcpt"] = e.rcpt ? json::value(*e.rcpt) : json::value(nullptr);
            o["reply"] = nullptr;
            o["tags"] = tags_json(e.tags);
            o["metadata"] = metadata_json(e.metadata);
        }
        return o;
    }
    if (feed) {
        o["id"] = e.id;
        o["rcpt"] = e.rcpt ? json::value(*e.rcpt) : json::value(nullptr);
        o["reply"] = e.reply ? json::value(reply_json(*e.reply)) : json::value(nullptr);
        o["tags"] = tags_json(e.tags);
        o["metadata"] = metadata_json(e.metadata);
        return o;
    }
    if (e.rcpt) o["rcpt"] = *e.rcpt;
    if (e.reply) o["reply"] = reply_json(*e.reply);
    return o;
}

}  // namespace haineko::queue
