#include "pipeline/relay_now.hpp"

#include "message/builder.hpp"
#include "relay/dispatch.hpp"

namespace haineko {

boost::asio::awaitable<std::vector<Reply>> relay_now(const Submission& submission, const Config& config,
                                                     MailerSet& mailers) {
    const BuiltMessage message = build_message(submission, config);
    co_return co_await relay_submission(submission, message, config, mailers);
}

}  // namespace haineko
