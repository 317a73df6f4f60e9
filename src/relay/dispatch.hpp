// Hands each accepted recipient of a submission to its route's mailer, up to max_workers
// at a time, and collects one reply per recipient in recipient order.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <vector>

#include "relay/mailer.hpp"

namespace haineko {

boost::asio::awaitable<std::vector<Reply>> relay_submission(const Submission& submission, const BuiltMessage& message,
                                                            const Config& config, MailerSet& mailers);

}  // namespace haineko
