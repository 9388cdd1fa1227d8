// Cipher suite names as TLSCiphersPrefer/TLSCiphersSuppress accept them: every name of the IANA
// registry, OpenSSL's names of those suites, TLS13_* aliases of the TLS 1.3 ones and
// TLS_CIPHER_0xNNNN for any value. Apache-free (unit-tested).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mod_tls {

// The IANA id of a suite name, or nullopt for a name in no registry.
std::optional<uint16_t> cipher_suite_id(std::string_view name);

// Splits directive arguments into names: each argument may hold several ':'-separated names.
std::vector<std::string> split_cipher_names(std::span<const std::string_view> args);

// TLS 1.3 suites are 0x13xx.
inline bool is_tls13_suite(uint16_t id) { return (id >> 8) == 0x13; }

// The suite order a host uses: `available` (rustls's order) minus `suppressed`, with the
// `preferred` ones that remain moved to the front in the given order.
std::vector<uint16_t> order_cipher_suites(std::span<const uint16_t> available,
                                          std::span<const uint16_t> preferred,
                                          std::span<const uint16_t> suppressed);

}  // namespace mod_tls
