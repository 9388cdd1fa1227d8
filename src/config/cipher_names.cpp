#include "config/cipher_names.h"

#include <algorithm>
#include <charconv>

namespace mod_tls {

namespace {

struct SuiteName {
    uint16_t id;
    std::string_view iana;
    std::string_view openssl;  // OpenSSL's name (TLS 1.2) or TLS13_* alias (TLS 1.3)
};

// The suites rustls 0.20 implements, and the common ones it does not (so that configurations
// written for OpenSSL name them without a startup error).
constexpr SuiteName kSuites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"},
    {0x1302, "TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS13_CHACHA20_POLY1305_SHA256"},
    {0x1304, "TLS_AES_128_CCM_SHA256", "TLS13_AES_128_CCM_SHA256"},
    {0x1305, "TLS_AES_128_CCM_8_SHA256", "TLS13_AES_128_CCM_8_SHA256"},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384"},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384"},
    {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256"},
    {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384"},
    {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305"},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE-RSA-AES128-SHA256"},
    {0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE-RSA-AES256-SHA256"},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE-RSA-AES128-SHA"},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE-RSA-AES256-SHA"},
    {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", "AES256-SHA256"},
    {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
};

constexpr std::string_view kHexPrefix = "TLS_CIPHER_0x";

}  // namespace

std::optional<uint16_t> cipher_suite_id(std::string_view name) {
    for (const SuiteName &s : kSuites) {
        if (name == s.iana || name == s.openssl) return s.id;
    }
    if (name.starts_with(kHexPrefix) && name.size() == kHexPrefix.size() + 4) {
        std::string_view hex = name.substr(kHexPrefix.size());
        unsigned value = 0;
        auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
        if (ec == std::errc() && end == hex.data() + hex.size()) return static_cast<uint16_t>(value);
    }
    return std::nullopt;
}

std::vector<std::string> split_cipher_names(std::span<const std::string_view> args) {
    std::vector<std::string> names;
    for (std::string_view arg : args) {
        while (!arg.empty()) {
            const size_t colon = arg.find(':');
            std::string_view name = arg.substr(0, colon);
            if (!name.empty()) names.emplace_back(name);
            if (colon == std::string_view::npos) break;
            arg.remove_prefix(colon + 1);
        }
    }
    return names;
}

std::vector<uint16_t> order_cipher_suites(std::span<const uint16_t> available,
                                          std::span<const uint16_t> preferred,
                                          std::span<const uint16_t> suppressed) {
    auto contains = [](std::span<const uint16_t> list, uint16_t id) {
        return std::find(list.begin(), list.end(), id) != list.end();
    };
    std::vector<uint16_t> out;
    for (uint16_t id : preferred) {
        if (contains(available, id) && !contains(suppressed, id) && !contains(out, id))
            out.push_back(id);
    }
    for (uint16_t id : available) {
        if (!contains(suppressed, id) && !contains(out, id)) out.push_back(id);
    }
    return out;
}

}  // namespace mod_tls
