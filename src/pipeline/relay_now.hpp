// The synchronous path of a checked submission (/submit): build the message once, then
// hand each recipient to its route's mailer and wait for every reply. (The queue, next,
// is the other path: the same checked submission, stored and delivered later.)
#pragma once
#include <boost/asio/awaitable.hpp>

#include <vector>

#include "config/config.hpp"
#include "core/reply.hpp"
#include "core/submission.hpp"
#include "plugin/session.hpp"
#include "relay/mailer.hpp"

namespace haineko {

// One reply per accepted recipient, in recipient order. With milters, or plugins at
// data_post, each recipient's own copy goes through them as its own transaction.
boost::asio::awaitable<std::vector<Reply>> relay_now(const Submission& submission, const Config& config,
                                                     MailerSet& mailers, plugin::Session& plugins);

}  // namespace haineko
