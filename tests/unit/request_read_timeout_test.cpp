// RequestReadTimeout's handshake stage as the module reads it (the wake-up of waiting handshakes).
#include <gtest/gtest.h>

#include "config/request_read_timeout.h"

using mod_tls::handshake_stage_limit;
using std::chrono::seconds;

TEST(RequestReadTimeout, PlainValue) {
    EXPECT_EQ(handshake_stage_limit("handshake=5"), seconds(5));
    EXPECT_EQ(handshake_stage_limit("header=20-40,MinRate=500 HandShake=7 body=10"), seconds(7));
}

TEST(RequestReadTimeout, RangeGivesItsUpperEnd) {
    EXPECT_EQ(handshake_stage_limit("handshake=5-10,MinRate=500"), seconds(10));
    EXPECT_EQ(handshake_stage_limit("handshake=5,MinRate=500"), seconds(5));
}

TEST(RequestReadTimeout, ZeroDisables) {
    EXPECT_EQ(handshake_stage_limit("handshake=0"), seconds(0));
}

TEST(RequestReadTimeout, OtherStagesOrNonsenseSetNothing) {
    EXPECT_EQ(handshake_stage_limit("header=20-40,MinRate=500 body=10"), std::nullopt);
    EXPECT_EQ(handshake_stage_limit(""), std::nullopt);
    EXPECT_EQ(handshake_stage_limit("handshake=abc"), std::nullopt);
    EXPECT_EQ(handshake_stage_limit("handshake=-3"), std::nullopt);
    EXPECT_EQ(handshake_stage_limit("xhandshake=5"), std::nullopt);
}
