#include "http/answer.hpp"

#include <ctime>

namespace haineko {

std::string ctime_text(std::chrono::system_clock::time_point when) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    return buf;
}

boost::json::object session_json(const Submission& s, bool started, const std::vector<Reply>& replies) {
    auto text_or_null = [](const std::string& v) -> boost::json::value {
        if (v.empty()) return nullptr;
        return boost::json::string(v);
    };
    boost::json::object o;
    o["queueid"] = started ? boost::json::value(s.queueid) : boost::json::value(nullptr);
    o["addresser"] = text_or_null(s.mail);
    boost::json::array rcpts;
    for (const auto& r : s.rcpt) rcpts.emplace_back(r);
    o["recipient"] = std::move(rcpts);
    o["referer"] = text_or_null(s.client.referer);
    o["useragent"] = text_or_null(s.client.useragent);
    o["remoteaddr"] = text_or_null(s.client.address);
    o["remoteport"] = s.client.port;
    auto unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(s.started.time_since_epoch()).count();
    o["timestamp"] = {{"datetime", ctime_text(s.started)}, {"unixtime", std::to_string(unix_seconds)}};
    boost::json::array response;
    for (const auto& r : replies) response.emplace_back(r.to_json());
    o["response"] = std::move(response);
    return o;
}

}  // namespace haineko
