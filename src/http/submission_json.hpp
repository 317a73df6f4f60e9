// The /submit body, the HTTP side of a submission: JSON (strict, or relaxed as the
// original's examples write it) read into a Submission, with field faults answered as the
// original answered them, then the policy's stages in the contract's order (checks 4-18),
// each refusal with the contract's HTTP status.
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
    std::vector<std::string> requested_rcpts;  // every recipient asked for, in order (the plugins see them all)
    bool ready_to_relay() const { return http_status == 200; }
};

// base carries the queue id, the time and the client facts; the rest comes from the body.
CheckOutcome check_submission_text(const Config& config, std::string_view body, Submission base);
CheckOutcome check_submission_json(const Config& config, const boost::json::value& request, Submission base);

// The contract's HTTP status for a refusal: 403 for relayhosts and too many recipients,
// 500 for a setting that is not a number, 400 for the rest.
int http_status_of(const Reply& refusal);

}  // namespace haineko
