// /submit played to the plugins: the envelope stages on a checked submission (a refusal at
// rcpt is that recipient's entry, at another stage every recipient's; an OK at rcpt takes
// a recipient that recipients refused), as the compat answer shows them.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/reply.hpp"
#include "core/submission.hpp"
#include "plugin/session.hpp"

namespace haineko {

struct SubmitPlay {
    int http_status = 200;        // 400 when no recipient is left
    std::vector<Reply> replies;   // the refused recipients' entries
};

// s.mail and s.rcpt become what the plugins and the recipients check left; requested is
// every recipient asked for, in order.
boost::asio::awaitable<SubmitPlay> play_submission(plugin::Session& plugins, const Config& config, Submission& s,
                                                   const std::vector<std::string>& requested, const std::string& user);

// A plugin's refusal as a recipient's entry in the compat answer.
Reply plugin_reply(const plugin::Result& r, const std::string& rcpt);

}  // namespace haineko
