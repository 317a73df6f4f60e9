#include "queue/records.hpp"

#include <array>

namespace haineko::queue {

namespace {

constexpr std::array<std::string_view, 6> kRcptStatusNames{"queued",  "deferred",  "delivered",
                                                           "bounced", "cancelled", "held"};
constexpr std::array<std::string_view, 5> kMessageStatusNames{"pending", "delivered", "bounced", "cancelled",
                                                              "partial"};

}  // namespace

std::string_view name_of(RcptStatus status) { return kRcptStatusNames[static_cast<size_t>(status)]; }

std::optional<RcptStatus> rcpt_status_named(std::string_view name) {
    for (size_t i = 0; i < kRcptStatusNames.size(); ++i)
        if (kRcptStatusNames[i] == name) return static_cast<RcptStatus>(i);
    return std::nullopt;
}

bool is_pending(RcptStatus status) {
    return status == RcptStatus::queued || status == RcptStatus::deferred || status == RcptStatus::held;
}

std::string_view name_of(MessageStatus status) { return kMessageStatusNames[static_cast<size_t>(status)]; }

std::optional<MessageStatus> message_status_named(std::string_view name) {
    for (size_t i = 0; i < kMessageStatusNames.size(); ++i)
        if (kMessageStatusNames[i] == name) return static_cast<MessageStatus>(i);
    return std::nullopt;
}

MessageStatus message_status_of(const std::vector<RcptStatus>& recipients) {
    bool all_delivered = true, all_bounced = true, all_cancelled = true;
    for (RcptStatus s : recipients) {
        if (is_pending(s)) return MessageStatus::pending;
        all_delivered &= s == RcptStatus::delivered;
        all_bounced &= s == RcptStatus::bounced;
        all_cancelled &= s == RcptStatus::cancelled;
    }
    if (recipients.empty()) return MessageStatus::cancelled;
    if (all_delivered) return MessageStatus::delivered;
    if (all_bounced) return MessageStatus::bounced;
    if (all_cancelled) return MessageStatus::cancelled;
    return MessageStatus::partial;
}

}  // namespace haineko::queue
