// Cipher suite names of TLSCiphersPrefer/TLSCiphersSuppress and the resulting suite order.
#include <gtest/gtest.h>

#include <charconv>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/cipher_names.h"

using mod_tls::cipher_suite_id;

namespace {

// The repo's copies of the registries the table is generated from (src/config/data/).
const std::string kData = std::string(MOD_TLS_CIPHER_DATA) + "/";

uint16_t hex_pair(std::string_view hi, std::string_view lo) {
    unsigned h = 0, l = 0;
    std::from_chars(hi.data(), hi.data() + hi.size(), h, 16);
    std::from_chars(lo.data(), lo.data() + lo.size(), l, 16);
    return static_cast<uint16_t>(h << 8 | l);
}

// (value, name) of every suite the IANA registry assigns: rows `"0xHH,0xHH",TLS_...,`. Ranges,
// "Reserved" and "Unassigned" rows are not suites; continuation lines of quoted fields never
// start with a quote.
std::vector<std::pair<uint16_t, std::string>> iana_suites() {
    std::vector<std::pair<uint16_t, std::string>> out;
    std::ifstream in(kData + "tls-cipher-suites.csv");
    EXPECT_TRUE(in.good());
    for (std::string line; std::getline(in, line);) {
        std::string_view l(line);
        if (l.size() < 13 || l.substr(0, 3) != "\"0x" || l.substr(5, 3) != ",0x" ||
            l.substr(10, 2) != "\",")
            continue;
        std::string_view rest = l.substr(12);
        std::string_view name = rest.substr(0, rest.find(','));
        if (!name.starts_with("TLS_")) continue;
        out.emplace_back(hex_pair(l.substr(3, 2), l.substr(8, 2)), std::string(name));
    }
    return out;
}

// (value, OpenSSL name) of openssl-cipher-names.txt: `0xHH,0xHH IANA_NAME OPENSSL_NAME`.
std::vector<std::pair<uint16_t, std::string>> openssl_names() {
    std::vector<std::pair<uint16_t, std::string>> out;
    std::ifstream in(kData + "openssl-cipher-names.txt");
    EXPECT_TRUE(in.good());
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::string_view l(line);
        out.emplace_back(hex_pair(l.substr(2, 2), l.substr(7, 2)),
                         std::string(l.substr(l.rfind(' ') + 1)));
    }
    return out;
}

}  // namespace

TEST(CipherNames, AllSpellingsOfOneSuite) {
    for (const char *name : {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                             "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_CIPHER_0xC02B",
                             "TLS_CIPHER_0xc02b"}) {
        ASSERT_EQ(cipher_suite_id(name), std::optional<uint16_t>(0xC02B)) << name;
    }
    EXPECT_EQ(cipher_suite_id("TLS13_AES_256_GCM_SHA384"), std::optional<uint16_t>(0x1302));
    EXPECT_EQ(cipher_suite_id("TLS_AES_256_GCM_SHA384"), std::optional<uint16_t>(0x1302));
}

TEST(CipherNames, EveryIanaRegistryNameIsKnown) {
    const auto suites = iana_suites();
    ASSERT_GT(suites.size(), 340u);  // the registry assigns about 350 suites
    for (const auto &[id, name] : suites)
        EXPECT_EQ(cipher_suite_id(name), std::optional<uint16_t>(id)) << name;
}

TEST(CipherNames, EveryOpenSslNameOfARegistrySuiteIsKnown) {
    const auto names = openssl_names();
    ASSERT_GT(names.size(), 250u);
    for (const auto &[id, name] : names)
        EXPECT_EQ(cipher_suite_id(name), std::optional<uint16_t>(id)) << name;
}

TEST(CipherNames, RegistryNamesOfEveryKind) {
    const std::pair<const char *, uint16_t> cases[] = {
        {"TLS_NULL_WITH_NULL_NULL", 0x0000},
        {"TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F},
        {"TLS_DH_anon_WITH_AES_256_GCM_SHA384", 0x00A7},  // the registry's letter case
        {"TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x00FF},
        {"TLS_AEGIS_128L_SHA256", 0x1307},
        {"TLS13_AES_128_CCM_8_SHA256", 0x1305},
        {"TLS_FALLBACK_SCSV", 0x5600},
        {"TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", 0xC106},
        {"TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", 0xD005},
        {"EXP-RC4-MD5", 0x0003},
        {"ADH-AES256-GCM-SHA384", 0x00A7},
        {"DES-CBC3-SHA", 0x000A},
        {"CAMELLIA256-SHA", 0x0084},
    };
    for (const auto &[name, id] : cases)
        EXPECT_EQ(cipher_suite_id(name), std::optional<uint16_t>(id)) << name;
}

TEST(CipherNames, HexFormCoversEveryValue) {
    EXPECT_EQ(cipher_suite_id("TLS_CIPHER_0x0000"), std::optional<uint16_t>(0x0000));
    EXPECT_EQ(cipher_suite_id("TLS_CIPHER_0x0A0A"), std::optional<uint16_t>(0x0A0A));  // GREASE
    EXPECT_EQ(cipher_suite_id("TLS_CIPHER_0xFFFF"), std::optional<uint16_t>(0xFFFF));
}

TEST(CipherNames, UnknownAndMisspelledNames) {
    for (const char *name : {"NOPE", "tls_aes_256_gcm_sha384", "TLS_CIPHER_0xC02", "TLS_CIPHER_0xZZZZ",
                             "TLS_CIPHER_0x12345", "", "ECDHE-ECDSA-AES128-GCM-SHA",
                             "TLS_CIPHER_0x+123", "TLS_CIPHER_0X1301", "TLS_dh_anon_WITH_AES_128_CBC_SHA",
                             "Reserved", "Unassigned", "NULL", "TLS_NULL_WITH_NULL_NUL"}) {
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
