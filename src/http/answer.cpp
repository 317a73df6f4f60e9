#include "http/answer.hpp"

#include <ctime>
#include <optional>

#include "core/json_text.hpp"

namespace haineko {

std::string ctime_text(std::chrono::system_clock::time_point when) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    return buf;
}

std::string session_json(const Submission& s, bool started, const std::vector<Reply>& replies) {
    auto text_or_null = [](const std::string& v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
    JsonText o;
    o.begin_object();
    o.key("queueid");
    started ? o.string(s.queueid) : o.null();
    o.key("addresser").string_or_null(text_or_null(s.mail));
    o.key("recipient").begin_array();
    for (const auto& r : s.rcpt) o.string(r);
    o.end_array();
    o.key("referer").string_or_null(text_or_null(s.client.referer));
    o.key("useragent").string_or_null(text_or_null(s.client.useragent));
    o.key("remoteaddr").string_or_null(text_or_null(s.client.address));
    o.key("remoteport").number(s.client.port);
    auto unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(s.started.time_since_epoch()).count();
    o.key("timestamp").begin_object();
    o.key("datetime").string(ctime_text(s.started));
    o.key("unixtime").string(std::to_string(unix_seconds));
    o.end_object();
    o.key("response").begin_array();
    for (const auto& r : replies) r.write_json(o);
    o.end_array();
    o.end_object();
    return o.take();
}

}  // namespace haineko
