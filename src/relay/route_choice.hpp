#pragma once
#include <string>

#include "config/config.hpp"

namespace haineko {

// etc/inbound by recipient domain, then mailertable by recipient domain, then sendermt by sender domain, then mailertable's
// "default", then the built-in hub (ESMTP 127.0.0.1:25); disabled entries are skipped.
const Route& choose_route(const Config& config, const std::string& sender, const std::string& rcpt);

}  // namespace haineko
