// Key exchange group names of TLSGroups.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "config/group_names.h"

using mod_tls::parse_kx_groups;

namespace {

std::vector<uint16_t> parse_ok(std::vector<std::string_view> args) {
    std::vector<uint16_t> ids;
    const std::string err = parse_kx_groups(args, ids);
    EXPECT_EQ(err, "");
    return ids;
}

}  // namespace

TEST(GroupNames, IanaNamesInTheGivenOrder) {
    EXPECT_EQ(parse_ok({"X25519MLKEM768", "x25519", "secp256r1", "secp384r1"}),
              (std::vector<uint16_t>{0x11EC, 0x001D, 0x0017, 0x0018}));
    EXPECT_EQ(parse_ok({"secp384r1", "x25519"}), (std::vector<uint16_t>{0x0018, 0x001D}));
}

TEST(GroupNames, AnyLetterCaseColonsAndRepeats) {
    EXPECT_EQ(parse_ok({"x25519mlkem768:X25519", "SECP256R1", "x25519"}),
              (std::vector<uint16_t>{0x11EC, 0x001D, 0x0017}));
}

TEST(GroupNames, UnknownNameIsNamedWithTheValidOnes) {
    std::vector<uint16_t> ids;
    const std::string err = parse_kx_groups(std::vector<std::string_view>{"x25519", "x448"}, ids);
    EXPECT_NE(err.find("'x448'"), std::string::npos) << err;
    EXPECT_NE(err.find("X25519MLKEM768 x25519 secp256r1 secp384r1"), std::string::npos) << err;
    // Not a prefix or a near miss either.
    for (std::string_view bad : {"x2551", "x25519 ", "X25519Kyber768Draft00", "P-256", "prime256v1"}) {
        EXPECT_NE(parse_kx_groups(std::vector<std::string_view>{bad}, ids), "") << bad;
    }
}

TEST(GroupNames, NoNameIsAnError) {
    std::vector<uint16_t> ids{1};
    EXPECT_NE(parse_kx_groups(std::vector<std::string_view>{":"}, ids), "");
    EXPECT_TRUE(ids.empty());
}
