// An immutable rustls server config, built once at startup and shared by all connections.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rustls/certified_key.h"
#include "rustls/client_verifier.h"
#include "rustls/error.h"
#include "rustls/handle.h"
#include "rustls/session_store.h"
#include "rustls/ticket_keys.h"

namespace tls {

struct ServerConfigParams {
    std::vector<uint16_t> versions;            // TLSB_TLS12 / TLSB_TLS13; empty: both
    std::vector<uint16_t> cipher_suites;       // preference order; empty: rustls's default
    std::vector<uint16_t> kx_groups;           // IANA ids, preference order; empty: the default
    std::vector<const CertifiedKey *> keys;    // configured order; must outlive build()
    bool honor_client_order = true;
    std::vector<std::string> alpn;             // protocols a connection may agree on
    const ClientVerifier *client_verifier = nullptr;  // nullptr: no client certificates asked
    // Resumption: sessions in `session_store` (must outlive the config), else per process
    // (rustls's in-memory cache) or nowhere (`no_session_cache`); tickets with `ticket_keys`.
    SessionStore *session_store = nullptr;
    bool no_session_cache = false;
    const TicketKeys *ticket_keys = nullptr;   // shared; must outlive build()
    // Sessions and tickets resume only between configs with the same scope (the host's identity).
    std::string session_scope;
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
