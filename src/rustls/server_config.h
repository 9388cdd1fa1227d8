// An immutable rustls server config, built once at startup and shared by all connections.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rustls/certified_key.h"
#include "rustls/client_verifier.h"
#include "rustls/error.h"
#include "rustls/handle.h"

namespace tls {

struct ServerConfigParams {
    std::vector<uint16_t> versions;            // TLSB_TLS12 / TLSB_TLS13; empty: both
    std::vector<uint16_t> cipher_suites;       // preference order; empty: rustls's default
    std::vector<const CertifiedKey *> keys;    // configured order; must outlive build()
    bool honor_client_order = true;
    std::vector<std::string> alpn;             // protocols a connection may agree on
    const ClientVerifier *client_verifier = nullptr;  // nullptr: no client certificates asked
};

class ServerConfig {
public:
    static Result<ServerConfig> build(const ServerConfigParams &params);
    const tlsb_server_config *get() const { return handle_.get(); }

private:
    explicit ServerConfig(ServerConfigHandle h) : handle_(std::move(h)) {}
    ServerConfigHandle handle_;
};

}  // namespace tls
