// TLSProxy* settings merge as per-directory configs do: inner scopes override setting by setting.
#include <gtest/gtest.h>

#include "proxy/proxy_settings.h"

namespace mod_tls {
namespace {

TEST(ProxySettings, UnsetInnerKeepsOuter) {
    const ProxyCa ca{"/ca.pem", "pem"};
    const std::vector<uint16_t> prefer{0x1301};
    ProxySettings outer;
    outer.engine = 1;
    outer.ca = &ca;
    outer.min_protocol = 0x0304;
    outer.prefer = &prefer;
    const ProxySettings merged = merge_proxy_settings(outer, ProxySettings{});
    EXPECT_TRUE(merged.engine_on());
    EXPECT_EQ(merged.ca, &ca);
    EXPECT_EQ(merged.min_protocol, 0x0304);
    EXPECT_EQ(merged.prefer, &prefer);
    EXPECT_EQ(merged.suppress, nullptr);
    EXPECT_EQ(merged.certs, nullptr);
}

TEST(ProxySettings, InnerOverridesSettingBySetting) {
    const ProxyCa outer_ca{"/outer.pem", "a"}, inner_ca{"/inner.pem", "b"};
    const std::vector<uint16_t> suppress{0x1303};
    const std::vector<ProxyCertificate> certs;
    ProxySettings outer;
    outer.engine = 1;
    outer.ca = &outer_ca;
    outer.suppress = &suppress;
    ProxySettings inner;
    inner.engine = 0;
    inner.ca = &inner_ca;
    inner.certs = &certs;
    const ProxySettings merged = merge_proxy_settings(outer, inner);
    EXPECT_FALSE(merged.engine_on());
    EXPECT_EQ(merged.ca, &inner_ca);
    EXPECT_EQ(merged.suppress, &suppress);
    EXPECT_EQ(merged.certs, &certs);
}

TEST(ProxySettings, EngineDefaultsToOff) {
    EXPECT_FALSE(ProxySettings{}.engine_on());
    EXPECT_FALSE(merge_proxy_settings(ProxySettings{}, ProxySettings{}).engine_on());
}

}  // namespace
}  // namespace mod_tls
