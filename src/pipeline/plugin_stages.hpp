// The plugins' message stages (data_post, queue) on a message bound for the queue, for
// every intake alike: the hooks see the message as it will be kept, and what they change
// (sender, recipients, header, body, a hold) is made in it, routes included.
#pragma once
#include <boost/asio/awaitable.hpp>

#include "config/config.hpp"
#include "plugin/session.hpp"
#include "queue/records.hpp"

namespace haineko {

// A refusal leaves n as it was. A rewrite into something that is not an address is the
// hook's failure (451 4.3.0), as for any other hook that broke.
boost::asio::awaitable<plugin::Result> plugin_message_stage(plugin::Session& plugins, plugin::Hook hook,
                                                            const Config& config, queue::NewMessage& n);

// What the plugins did to the transaction, as the message's events.
void take_plugin_notes(const plugin::Session& plugins, queue::NewMessage& n);

// Is this what a plugin may leave as an envelope address? (mail: "" is the null sender)
bool plugin_address_ok(const std::string& address, bool sender);

}  // namespace haineko
