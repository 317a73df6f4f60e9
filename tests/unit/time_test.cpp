#include <gtest/gtest.h>

#include "core/time.hpp"

using namespace haineko;

TEST(Rfc3339, WritesUtcSeconds) {
    EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(rfc3339(1'795'428'000'999), "2026-11-23T10:00:00Z");
    EXPECT_EQ(rfc3339(951'782'400'000), "2000-02-29T00:00:00Z");
}

TEST(Rfc3339, ReadsZonesAndFractions) {
    EXPECT_EQ(parse_rfc3339("2026-11-23T10:00:00Z"), 1'795'428'000'000);
    EXPECT_EQ(parse_rfc3339("2026-11-23T19:00:00+09:00"), 1'795'428'000'000);
    EXPECT_EQ(parse_rfc3339("2026-11-23T05:30:00-04:30"), 1'795'428'000'000);
    EXPECT_EQ(parse_rfc3339("2026-11-23T10:00:00.25Z"), 1'795'428'000'250);
    EXPECT_EQ(parse_rfc3339("2026-11-23t10:00:00z"), 1'795'428'000'000);
}

TEST(Rfc3339, RefusesWhatIsNotOne) {
    for (const char* bad : {"", "2026-11-23", "2026-11-23T10:00:00", "2026-02-30T10:00:00Z", "2026-11-23T24:00:00Z",
                            "2026-11-23T10:00:00+0900", "2026-11-23T10:00:00Zjunk", "tomorrow", "2026-11-23T10:00:00.Z",
                            "2026-13-01T00:00:00Z"})
        EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}
