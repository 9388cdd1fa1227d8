#include "config/cipher_names.h"

#include <algorithm>
#include <charconv>

namespace mod_tls {

namespace {

struct SuiteName {
    uint16_t id;
    std::string_view iana;
    std::string_view alias;  // OpenSSL's name, the TLS13_* spelling of a TLS 1.3 suite, or empty
};

// Every suite of the IANA registry, generated from the copy in src/config/data/.
constexpr SuiteName kSuites[] = {
#include "config/cipher_registry.inc"
};

constexpr std::string_view kHexPrefix = "TLS_CIPHER_0x";

}  // namespace

std::optional<uint16_t> cipher_suite_id(std::string_view name) {
    for (const SuiteName &s : kSuites) {
        if (name == s.iana || (!s.alias.empty() && name == s.alias)) return s.id;
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
