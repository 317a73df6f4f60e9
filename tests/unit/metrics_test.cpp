// The pieces of /metrics that need no server: endpoint labels, label escaping, the
// histogram and the adding up of loops' counters.
#include <gtest/gtest.h>

#include "http/metrics.hpp"
#include "loops/loop_metrics.hpp"

using namespace haineko;

TEST(MetricsTest, EndpointLabelsAreFewWhateverThePath) {
    EXPECT_EQ(endpoint_label("/submit"), "/submit");
    EXPECT_EQ(endpoint_label("/v1/messages"), "/v1/messages");
    EXPECT_EQ(endpoint_label("/v1/messages/kANGTYaqtwOVXN6w"), "/v1/messages/{id}");
    EXPECT_EQ(endpoint_label("/v1/messages/kANGTYaqtwOVXN6w/retry"), "/v1/messages/{id}/retry");
    EXPECT_EQ(endpoint_label("/v1/messages/x/made-up"), "other");
    EXPECT_EQ(endpoint_label("/submit/"), "other");
    EXPECT_EQ(endpoint_label("/etc/passwd"), "other");
    EXPECT_EQ(endpoint_label(""), "other");
}

TEST(MetricsTest, LabelValuesAreEscaped) {
    EXPECT_EQ(escaped_label("plain"), "plain");
    EXPECT_EQ(escaped_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(MetricsTest, HistogramPutsEachValueInItsFirstBucket) {
    Histogram h;
    h.observe(0.001);  // <= 0.01
    h.observe(0.01);   // <= 0.01: the bound is inclusive
    h.observe(2);      // <= 2.5
    h.observe(1e9);    // past every bound: only in count (+Inf)
    EXPECT_EQ(h.below[0], 2u);
    EXPECT_EQ(h.below[6], 1u);
    EXPECT_EQ(h.count, 4u);
    std::uint64_t in_buckets = 0;
    for (auto n : h.below) in_buckets += n;
    EXPECT_EQ(in_buckets, 3u);
    EXPECT_DOUBLE_EQ(h.sum, 0.001 + 0.01 + 2 + 1e9);
}

TEST(MetricsTest, LoopsAddUp) {
    LoopMetrics a, b;
    a.count_http("/submit", 200);
    b.count_http("/submit", 200);
    b.count_http("/submit", 400);
    a.count_delivery("ESMTP", "delivered");
    b.count_smtp("accepted");
    b.delivery_latency.observe(0.2);
    a.add(b);
    EXPECT_EQ((a.http_requests[{"/submit", 200}]), 2u);
    EXPECT_EQ((a.http_requests[{"/submit", 400}]), 1u);
    EXPECT_EQ((a.deliveries[{"ESMTP", "delivered"}]), 1u);
    EXPECT_EQ(a.smtp_messages["accepted"], 1u);
    EXPECT_EQ(a.delivery_latency.count, 1u);
}
