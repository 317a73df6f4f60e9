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
