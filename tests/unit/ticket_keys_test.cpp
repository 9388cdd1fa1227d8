#include "rustls/ticket_keys.h"

#include <gtest/gtest.h>

#include <string>

namespace {

tls::Result<tls::TicketKeys> parse(const std::string &text) {
    return tls::TicketKeys::parse(std::span<const char>(text), 300);
}

}  // namespace

TEST(TicketKeys, ParsesKeysSkippingCommentsAndEmptyLines) {
    auto k = parse("# rotated 2026-11-25\n\nICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n"
                   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
    ASSERT_TRUE(k) << k.error().message();
    EXPECT_EQ(k.value().count(), 2u);
    EXPECT_NE(k.value().get(), nullptr);
}

TEST(TicketKeys, ErrorsNameTheLineAndNotTheKey) {
    auto k = parse("# c\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nAAECAwQFBgcICQoLDA0ODw==\n");
    ASSERT_FALSE(k);
    EXPECT_NE(k.error().message().find("line 3"), std::string::npos) << k.error().message();
    EXPECT_EQ(k.error().message().find("AAECAw"), std::string::npos) << k.error().message();
    EXPECT_FALSE(parse(""));
    EXPECT_FALSE(parse("# nothing\n"));
}
