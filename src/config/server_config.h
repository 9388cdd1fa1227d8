// What the directives of one server (main server or <VirtualHost>) said, after merging.
// Written while Apache reads the configuration; read-only once post_config has compiled it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apache/includes.h"
#include "config/client_auth.h"
#include "config/directive_site.h"
#include "config/engine_address.h"
#include "rustls/certified_key.h"
#include "rustls/ticket_keys.h"

namespace mod_tls {

DirectiveSite site_of(const cmd_parms *cmd);

struct CertificateEntry {
    std::string cert_path;
    std::string key_path;  // same as cert_path when the key is inside the certificate file
    std::shared_ptr<const tls::CertifiedKey> key;  // loaded and checked when the directive is read
    DirectiveSite site;
};

struct HostTls;  // compiled per-host TLS state (config/compile.h)
struct SessionCacheSetting;  // TLSSessionCache (integration/session_cache.h)

struct ServerConfig {
    std::vector<CertificateEntry> certificates;
    std::optional<uint16_t> min_protocol;
    std::optional<std::vector<uint16_t>> ciphers_prefer;    // IANA ids, in order
    std::optional<std::vector<uint16_t>> ciphers_suppress;
    std::optional<std::vector<uint16_t>> kx_groups;         // TLSGroups: IANA ids, in order
    std::optional<bool> honor_client_order;                 // default on
    std::optional<bool> strict_sni;                         // default on
    ClientAuthConfig client_auth;                           // config/client_auth.h

    // Main server only: the TLSEngine addresses.
    std::vector<EngineAddress> engines;
    // Main server only: TLSSessionCache (absent: the default) and TLSSessionTicketKeys.
    std::shared_ptr<const SessionCacheSetting> session_cache;
    std::shared_ptr<const tls::TicketKeys> ticket_keys;

    // Set by post_config for servers that serve TLS; immutable afterwards. Every server_rec has a
    // record of its own (AP_MODULE_FLAG_ALWAYS_MERGE), so this is always that server's host.
    const HostTls *compiled = nullptr;
    // Set by post_config: mod_reqtimeout's handshake stage where this server's own section sets
    // it (connection/handshake_wakeup.h).
    std::optional<std::chrono::seconds> handshake_stage;
};

ServerConfig *server_config(const server_rec *s);

void *create_server_config(apr_pool_t *pool, server_rec *s);
void *merge_server_config(apr_pool_t *pool, void *base, void *add);

}  // namespace mod_tls
