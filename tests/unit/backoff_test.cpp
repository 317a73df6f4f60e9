#include <gtest/gtest.h>

#include "queue/backoff.hpp"

using namespace haineko::queue;

TEST(Backoff, DoublesFromTheMinimumUpToTheMaximum) {
    const RetryPolicy p;  // Postfix's 300 s, 4000 s
    EXPECT_EQ(backoff_after(p, 1, 0.0), 300'000);
    EXPECT_EQ(backoff_after(p, 2, 0.0), 600'000);
    EXPECT_EQ(backoff_after(p, 3, 0.0), 1'200'000);
    EXPECT_EQ(backoff_after(p, 4, 0.0), 2'400'000);
    EXPECT_EQ(backoff_after(p, 5, 0.0), 4'000'000);
    EXPECT_EQ(backoff_after(p, 500, 0.0), 4'000'000);  // no overflow however many
}

TEST(Backoff, JitterIsTenPercentEitherWay) {
    const RetryPolicy p;
    EXPECT_EQ(backoff_after(p, 1, 0.1), 330'000);
    EXPECT_EQ(backoff_after(p, 1, -0.1), 270'000);
    EXPECT_EQ(backoff_after(p, 1, 0.5), 330'000);  // clamped
    std::mt19937_64 random(42);
    Millis low = backoff_after(p, 1, random), high = low;
    for (int i = 0; i < 1000; ++i) {
        const Millis w = backoff_after(p, 1, random);
        EXPECT_GE(w, 270'000);
        EXPECT_LE(w, 330'000);
        low = std::min(low, w);
        high = std::max(high, w);
    }
    EXPECT_LT(low, 280'000);  // spread over the range, not one value
    EXPECT_GT(high, 320'000);
}

TEST(Backoff, OddPoliciesStaySane) {
    EXPECT_EQ(backoff_after(RetryPolicy{600'000, 60'000, 1000}, 3, 0.0), 600'000);  // max below min
    EXPECT_EQ(backoff_after(RetryPolicy{0, 0, 1000}, 3, 0.0), 1000);               // at least a second
}

TEST(Backoff, LifetimeEndsAfterMaxLifetime) {
    const RetryPolicy p;
    EXPECT_FALSE(lifetime_over(p, 0, 432'000'000 - 1));
    EXPECT_TRUE(lifetime_over(p, 0, 432'000'000));
}

#include "queue/disposition.hpp"

namespace {

haineko::Reply reply_with(int code, const char* dsn) {
    haineko::Reply r;
    r.code = code;
    r.dsn = dsn;
    r.command = "RCPT";
    r.message = {"text"};
    r.host = "127.0.0.1";
    return r;
}

}  // namespace

TEST(Disposition, TwoHundredsDeliverFiveHundredsBounceTheRestDefer) {
    std::mt19937_64 random(1);
    const RetryPolicy p;
    const DueRecipient due{7, "id", "neko@example.org", 0, 1'000'000, 2};
    const RouteFacts route{"ESMTP", "127.0.0.1", 25};
    auto delivered = dispose(due, reply_with(250, "2.0.0"), route, p, 2'000'000, random);
    EXPECT_EQ(delivered.status, RcptStatus::delivered);
    EXPECT_EQ(delivered.message, 7);
    EXPECT_EQ(delivered.position, 2);  // the store settles the recipient by this key
    EXPECT_EQ(delivered.reply->code, "250");
    auto bounced = dispose(due, reply_with(550, "5.1.1"), route, p, 2'000'000, random);
    EXPECT_EQ(bounced.status, RcptStatus::bounced);
    EXPECT_EQ(bounced.reply->dsn, "5.1.1");
    auto deferred = dispose(due, reply_with(451, "4.3.0"), route, p, 2'000'000, random);
    EXPECT_EQ(deferred.status, RcptStatus::deferred);
    ASSERT_TRUE(deferred.next_attempt_at);
    EXPECT_GE(*deferred.next_attempt_at, 2'000'000 + 270'000);
    EXPECT_LE(*deferred.next_attempt_at, 2'000'000 + 330'000);
    // No reply at all (a code of 0) is trouble for now, never a delivery.
    EXPECT_EQ(dispose(due, reply_with(0, ""), route, p, 2'000'000, random).status, RcptStatus::deferred);
    EXPECT_EQ(dispose(due, reply_with(354, ""), route, p, 2'000'000, random).status, RcptStatus::deferred);
}

TEST(Disposition, ATemporaryFailureBouncesOnceTheLifetimeIsOver) {
    std::mt19937_64 random(1);
    const RetryPolicy p{300'000, 4'000'000, 3'600'000};
    const DueRecipient due{7, "id", "neko@example.org", 5, 0, 0};
    EXPECT_EQ(dispose(due, reply_with(451, "4.3.0"), {}, p, 3'600'000, random).status, RcptStatus::bounced);
    // Just before the end: the next try is at the end, not after it.
    auto last = dispose(due, reply_with(451, "4.3.0"), {}, p, 3'500'000, random);
    EXPECT_EQ(last.status, RcptStatus::deferred);
    EXPECT_EQ(last.next_attempt_at, 3'600'000);
}

#include "queue/webhooks.hpp"

TEST(Webhooks, SignatureIsHmacOfTimeAndBody) {
    // HMAC-SHA256("key", "1700000000.{}"), as `openssl dgst -sha256 -hmac key` computes it.
    EXPECT_EQ(webhook_signature("key", 1700000000, "{}"),
              "t=1700000000,v1=" "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
}

TEST(Webhooks, BackoffDoublesToAnHour) {
    EXPECT_EQ(webhook_backoff(0, 0.0), 10'000);
    EXPECT_EQ(webhook_backoff(1, 0.0), 20'000);
    EXPECT_EQ(webhook_backoff(20, 0.0), 3'600'000);
    EXPECT_EQ(webhook_backoff(0, 0.1), 11'000);
}
