// compose_message for /v1: blind recipients stay out of the header. The second case is the
// input fuzz_v1_request once flagged: the envelope sender "boaudit@example.jp" ends with the
// blind address "audit@example.jp", which a plain substring search mistook for a leak.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <variant>

#include "core/text.hpp"
#include "fuzz_support.hpp"
#include "http/v1_request.hpp"
#include "message/compose.hpp"

using namespace haineko;

namespace {

std::string header_of(const std::string& json) {
    auto read = read_v1_message(json, 8);
    const auto* m = std::get_if<V1Message>(&read);
    if (!m) return "(refused)";
    Composition c = composition_of(*m);
    c.hostname = "mx.example.net";
    c.message_id = "id.1@mx.example.net";
    c.origin.queueid = "Q0000000000abcd";
    c.origin.started = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    c.origin.client.address = "192.0.2.1";
    c.origin.mail = m->mail;
    const std::string text = compose_message(c);
    return to_lower(text.substr(0, text.find("\r\n\r\n") + 2));
}

}  // namespace

TEST(ComposeTest, BlindRecipientIsNotInTheHeader) {
    const auto head = header_of(R"({"from":"a@example.jp","to":["b@example.org"],"bcc":["audit@example.jp"],)"
                                R"("subject":"s","text":"t"})");
    EXPECT_EQ(head.find("bcc:"), std::string::npos);
    EXPECT_EQ(head.find("audit@example.jp"), std::string::npos);
}

TEST(ComposeTest, SenderEndingWithABlindAddressIsNoLeak) {
    const auto head = header_of(R"({"from":"a@example.jp","to":["b@example.org"],"bcc":["audit@example.jp"],)"
                                R"("mail":"boaudit@example.jp","subject":"s","text":"t"})");
    EXPECT_TRUE(fuzz::holds_whole_address(head, "boaudit@example.jp")) << head;
    EXPECT_FALSE(fuzz::holds_whole_address(head, "audit@example.jp")) << head;
    EXPECT_EQ(head.find("bcc:"), std::string::npos);
}
