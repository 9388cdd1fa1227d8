// TLSProtocol values: "default", "TLSv1.2+", "TLSv1.3+", "TLSv0xNNNN+", "v1.2+", any letter case.
// Apache-free so unit tests can cover it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mod_tls {

inline constexpr uint16_t kTls12 = 0x0303;
inline constexpr uint16_t kTls13 = 0x0304;

struct ProtocolMinimum {
    bool ok = false;
    uint16_t version = kTls12;  // the minimum to apply
    std::string warning;        // set when the value was below TLS 1.2 and was raised to it
    std::string error;          // set when !ok: what is wrong and what to write instead
};

ProtocolMinimum parse_protocol_minimum(std::string_view value);

// The versions a minimum enables, newest first (rustls supports 1.2 and 1.3).
std::vector<uint16_t> versions_from(uint16_t minimum);

}  // namespace mod_tls
