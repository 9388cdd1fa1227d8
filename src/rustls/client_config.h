// An immutable rustls client config for TLS to backends, built once at startup and shared by all
// backend connections that use the same settings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rustls/certified_key.h"
#include "rustls/error.h"
#include "rustls/handle.h"

namespace tls {

struct ClientConfigParams {
    std::vector<uint16_t> versions;            // TLSB_TLS12 / TLSB_TLS13; empty: both
    std::vector<uint16_t> cipher_suites;       // preference order; empty: rustls's default
    std::vector<uint16_t> kx_groups;           // IANA ids, preference order; empty: the default
    std::string ca_pem;                        // trust anchors (PEM)
    std::vector<const CertifiedKey *> keys;    // client certificates; must outlive build()
};

class ClientConfig {
public:
    static Result<ClientConfig> build(const ClientConfigParams &params);
    const tlsb_client_config *get() const { return handle_.get(); }
    size_t anchor_count() const { return tlsb_client_config_anchor_count(handle_.get()); }

private:
    explicit ClientConfig(ClientConfigHandle h) : handle_(std::move(h)) {}
    ClientConfigHandle handle_;
};

}  // namespace tls
