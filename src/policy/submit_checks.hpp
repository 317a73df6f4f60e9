// The contract's checks 4-18 on a submission, in the contract's order.
#pragma once
#include <boost/json.hpp>

#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/reply.hpp"
#include "core/submission.hpp"

namespace haineko {

struct CheckOutcome {
    int http_status = 200;
    // The failing check's one reply, or the replies of recipients rejected at 13-14.
    std::vector<Reply> replies;
    Submission submission;  // filled as far as the checks went
    bool ready_to_relay() const { return http_status == 200; }
};

// base carries the queue id, the time and the client facts; the rest comes from the body.
CheckOutcome check_submission_text(const Config& config, std::string_view body, Submission base);
CheckOutcome check_submission_json(const Config& config, const boost::json::value& request, Submission base);

}  // namespace haineko
