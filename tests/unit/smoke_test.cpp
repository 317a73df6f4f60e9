#include <gtest/gtest.h>
#include "core/reply.hpp"
TEST(Smoke, NamedReply) { EXPECT_EQ(haineko::named_reply("rcpt", "rejected").code, 553); }
