// Cipher suite names of TLSCiphersPrefer/TLSCiphersSuppress and the resulting suite order.
#include <gtest/gtest.h>

#include "config/cipher_names.h"

using mod_tls::cipher_suite_id;

TEST(CipherNames, AllSpellingsOfOneSuite) {
    for (const char *name : {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                             "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_CIPHER_0xC02B",
                             "TLS_CIPHER_0xc02b"}) {
        ASSERT_EQ(cipher_suite_id(name), std::optional<uint16_t>(0xC02B)) << name;
    }
    EXPECT_EQ(cipher_suite_id("TLS13_AES_256_GCM_SHA384"), std::optional<uint16_t>(0x1302));
    EXPECT_EQ(cipher_suite_id("TLS_AES_256_GCM_SHA384"), std::optional<uint16_t>(0x1302));
}

TEST(CipherNames, UnknownAndMisspelledNames) {
    for (const char *name : {"NOPE", "tls_aes_256_gcm_sha384", "TLS_CIPHER_0xC02", "TLS_CIPHER_0xZZZZ",
                             "TLS_CIPHER_0x12345", "", "ECDHE-ECDSA-AES128-GCM-SHA"}) {
        EXPECT_FALSE(cipher_suite_id(name).has_value()) << name;
    }
}

TEST(CipherNames, KnownButNotInRustls) {
    EXPECT_EQ(cipher_suite_id("AES128-GCM-SHA256"), std::optional<uint16_t>(0x009C));
    EXPECT_EQ(cipher_suite_id("TLS_RSA_WITH_AES_128_GCM_SHA256"), std::optional<uint16_t>(0x009C));
}

TEST(CipherNames, SplitsColonsAndArguments) {
    std::string_view args[] = {"A:B", "C", "::D:"};
    EXPECT_EQ(mod_tls::split_cipher_names(args), (std::vector<std::string>{"A", "B", "C", "D"}));
}

TEST(CipherNames, OrderMovesPreferredFirstAndDropsSuppressed) {
    const uint16_t available[] = {0x1302, 0x1301, 0x1303, 0xC02C, 0xC02B};
    const uint16_t preferred[] = {0x1303, 0x009C /* not available */, 0xC02B};
    const uint16_t suppressed[] = {0x1301, 0xC02B /* wins over prefer */};
    EXPECT_EQ(mod_tls::order_cipher_suites(available, preferred, suppressed),
              (std::vector<uint16_t>{0x1303, 0x1302, 0xC02C}));
    EXPECT_EQ(mod_tls::order_cipher_suites(available, {}, {}),
              std::vector<uint16_t>(std::begin(available), std::end(available)));
}
