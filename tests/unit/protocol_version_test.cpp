// TLSProtocol value parsing (SPEC: default, TLSv1.2+, TLSv1.3+, TLSv0xNNNN+, v1.2+, any case).
#include <gtest/gtest.h>

#include "config/protocol_version.h"

using mod_tls::kTls12;
using mod_tls::kTls13;
using mod_tls::parse_protocol_minimum;

TEST(ProtocolVersion, DefaultIsTls12) {
    auto p = parse_protocol_minimum("default");
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(p.version, kTls12);
    EXPECT_TRUE(p.warning.empty());
}

TEST(ProtocolVersion, AcceptsAllSpellingsInAnyCase) {
    struct Case { const char *text; uint16_t version; };
    for (const Case &c : {Case{"TLSv1.2+", kTls12}, Case{"tlsv1.3+", kTls13},
                          Case{"TLSV1.3+", kTls13}, Case{"v1.2+", kTls12}, Case{"V1.3+", kTls13},
                          Case{"TLSv0x0304+", kTls13}, Case{"TLSv0x0303+", kTls12},
                          Case{"DEFAULT", kTls12}}) {
        auto p = parse_protocol_minimum(c.text);
        ASSERT_TRUE(p.ok) << c.text << ": " << p.error;
        EXPECT_EQ(p.version, c.version) << c.text;
    }
}

TEST(ProtocolVersion, BelowTls12WarnsAndUsesTls12) {
    for (const char *text : {"TLSv1.0+", "TLSv1.1+", "v1+", "TLSv0x0301+"}) {
        auto p = parse_protocol_minimum(text);
        ASSERT_TRUE(p.ok) << text;
        EXPECT_EQ(p.version, kTls12) << text;
        EXPECT_NE(p.warning.find("below TLS 1.2"), std::string::npos) << text;
    }
}

TEST(ProtocolVersion, AboveTls13IsAnError) {
    auto p = parse_protocol_minimum("TLSv0x0305+");
    EXPECT_FALSE(p.ok);
    EXPECT_NE(p.error.find("newer than TLS 1.3"), std::string::npos);
}

TEST(ProtocolVersion, UnknownWordsAreErrorsNamingTheFix) {
    for (const char *text : {"bogus", "TLSv9+", "TLSv1.2", "1.2+", "TLSv0x304+", "TLSv0x03g4+",
                             "+", "", "SSLv3+"}) {
        auto p = parse_protocol_minimum(text);
        EXPECT_FALSE(p.ok) << text;
        EXPECT_NE(p.error.find("TLSv1.2+"), std::string::npos) << text;
    }
}

TEST(ProtocolVersion, VersionsFromMinimum) {
    EXPECT_EQ(mod_tls::versions_from(kTls12), (std::vector<uint16_t>{kTls13, kTls12}));
    EXPECT_EQ(mod_tls::versions_from(kTls13), (std::vector<uint16_t>{kTls13}));
}
