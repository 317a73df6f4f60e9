// Hands each accepted recipient of a submission to its route's mailer, up to max_workers
// at a time, and collects one reply per recipient in recipient order.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <exception>
#include <optional>
#include <vector>

#include "relay/mailer.hpp"

namespace haineko {

// The route's authinfo entry, or null (none named, or missing).
const Credential* credential_for(const Config& config, const Route& route);

// Why a route cannot be used at all: an unknown mailer (500, naming the mailers there
// are) or credentials authinfo does not have (530 5.7.0); nullopt when it can.
std::optional<Reply> route_refusal(const Route& route, Mailer* mailer, const Credential* credential);

// The reply when a mailer throws.
Reply mailer_failure(const std::exception& e);

boost::asio::awaitable<std::vector<Reply>> relay_submission(const Submission& submission, const BuiltMessage& message,
                                                            const Config& config, MailerSet& mailers);

}  // namespace haineko
