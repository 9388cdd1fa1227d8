// Certificates and server configs shared by the fuzz targets: built once from the bridge's test
// data (bridge/tests/data), never from fuzzer input.
#pragma once

#include <string>

#include "rustls/certified_key.h"
#include "rustls/server_config.h"

namespace fuzz {

// Path of a file in the bridge's test data.
std::string test_data(const std::string &name);
std::string slurp(const std::string &path);

// index % count() selects one of a few configs: RSA / ECDSA / Ed25519 keys, TLS 1.2+1.3,
// 1.3 only, 1.2 only, with ALPN "h2" and "http/1.1" allowed.
const tls::ServerConfig &server_config(unsigned index);
unsigned server_config_count();

}  // namespace fuzz
