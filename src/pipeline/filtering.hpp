// The milters on a message bound for the queue: its content goes through the chain, and
// what the filters changed (header, body, sender, recipients) is made in the message the
// queue keeps. An HTTP submission is played to the chain as one SMTP session would be
// (connect, EHLO, MAIL, each RCPT, the message), so that every intake is filtered alike.
#pragma once
#include <boost/asio.hpp>

#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "milter/chain.hpp"
#include "queue/records.hpp"

namespace haineko {

// The end of data: the chain sees n's message; on go_on or discard, n holds the changes
// (and is held when a filter quarantined it).
boost::asio::awaitable<milter::Verdict> filter_message(milter::Chain& chain, const Config& config,
                                                       queue::NewMessage& n);

// A whole HTTP submission through the milters. verdict is the first refusal of the
// message (or go_on); each recipient a filter refused at RCPT is in refused_rcpts, and
// no longer in n.
struct FilterResult {
    milter::Verdict verdict;
    std::vector<std::pair<std::string, milter::Verdict>> refused_rcpts;
};
// helo: what the client called itself (/submit's ehlo), else its address literal.
boost::asio::awaitable<FilterResult> filter_submission(const Config& config, const milter::ClientFacts& client,
                                                       const std::string& helo, queue::NewMessage& n);

}  // namespace haineko
