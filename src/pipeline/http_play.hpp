// The HTTP intakes played to the plugins as one SMTP session would be (spec/plugins.md,
// "Hooks"): connect, ehlo (/submit's ehlo field), auth (when the request carried
// credentials), mail, and rcpt once per recipient; data_post and queue follow on the
// built message (pipeline/plugin_stages). Addresses the hooks rewrote are rewritten here.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

#include "plugin/session.hpp"

namespace haineko {

struct EnvelopePlay {
    std::optional<plugin::Result> refused;  // at connect, ehlo, auth or mail: the whole request
    // One per recipient, in order: its refusal at rcpt, if any.
    std::vector<std::optional<plugin::Result>> rcpt_refused;
    std::vector<bool> rcpt_ok;  // a plugin said OK: the recipients check is skipped for it
};

struct EnvelopeIn {
    std::string queue_id;
    std::optional<std::string> ehlo;  // /submit's ehlo
    std::string user;                 // "" without credentials
};

// mail and rcpts are rewritten in place. With stop_at_refusal, the first refusal of a
// recipient ends the play (/v1 refuses the whole request for it).
boost::asio::awaitable<EnvelopePlay> play_envelope(plugin::Session& plugins, const EnvelopeIn& in, std::string& mail,
                                                   std::vector<std::string>& rcpts, bool stop_at_refusal);

}  // namespace haineko
