// Discard: accepts and drops, like a black hole.
#include "relay/mailer.hpp"

namespace haineko {
namespace {

class DiscardMailer final : public Mailer {
public:
    boost::asio::awaitable<Reply> deliver(const Delivery&) override {
        Reply r = named_reply("data", "discard");
        co_return r;
    }
};

}  // namespace

std::unique_ptr<Mailer> make_discard_mailer() { return std::make_unique<DiscardMailer>(); }

}  // namespace haineko
