#include "core/submission.hpp"

namespace haineko {

std::vector<std::pair<std::string, std::string>> trace_headers(const Submission& s) {
    std::vector<std::pair<std::string, std::string>> h;
    // ", " lets a long list fold between hops rather than inside one.
    std::string loop;
    for (const auto& hop : s.header.loop) loop += (loop.empty() ? "" : ", ") + hop;
    if (!s.client.useragent.empty()) h.emplace_back("X-Mailer", s.client.useragent);
    h.emplace_back("X-SMTP-Engine", std::string("Haineko ") + HAINEKO_VERSION);
    if (!s.client.referer.empty()) h.emplace_back("X-HTTP-Referer", s.client.referer);
    h.emplace_back("X-Haineko-Loop", std::move(loop));
    h.emplace_back("X-Originating-IP", s.client.address);
    return h;
}

}  // namespace haineko
