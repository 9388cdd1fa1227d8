#include "integration/outage_gate.h"

#include <gtest/gtest.h>

using mod_tls::OutageGate;
using R = OutageGate::Report;

TEST(OutageGate, OneReportPerOutageThenRepeatsSlowly) {
    OutageGate g(60);
    EXPECT_EQ(g.success(), R::None);
    EXPECT_EQ(g.failure(1000), R::Down);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(g.failure(1000 + i % 59), R::None);
    EXPECT_EQ(g.failure(1060), R::StillDown);
    EXPECT_EQ(g.failure(1061), R::None);
    EXPECT_EQ(g.success(), R::Recovered);
    EXPECT_EQ(g.success(), R::None);
    EXPECT_EQ(g.failure(1062), R::Down) << "a new outage is reported at once";
}
