// post_config: turns the merged directives of every server into immutable TLS state — one rustls
// config per host that serves TLS — and checks that every TLS address has certificates.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apache/includes.h"
#include "config/client_auth.h"
#include "config/engine_address.h"
#include "integration/ocsp_stapling.h"
#include "rustls/server_config.h"

namespace mod_tls {

// The ALPN protocols a connection may agree on (each host's config is prepared for all of them).
inline constexpr const char *kAlpnHttp11 = "http/1.1";
inline constexpr const char *kAlpnH2 = "h2";
inline constexpr const char *kAlpnAcme = "acme-tls/1";

// The compiled TLS state of one server_rec (main server or virtual host).
struct HostTls {
    const server_rec *server;
    std::string name;  // for log lines: ServerName (or "main server")
    tls::ServerConfig config;
    std::vector<std::string> certificate_files;  // "cert|key" per TLSCertificate, in order
    std::vector<uint16_t> versions;              // enabled protocol versions
    std::vector<uint16_t> cipher_suites;         // enabled suites, in preference order
    bool strict_sni = true;
    bool md_fallback = false;             // served with mod_md's fallback certificate: 503s
    std::vector<OcspStaple> ocsp;         // certificates with OCSP stapling (empty: none)
    ClientCertMode client_cert_mode = ClientCertMode::kNone;
    std::string user_name;             // TLSUserName: the variable naming the request's user
    std::string client_auth_identity;  // see CompiledClientAuth::identity

    // Whether a connection this host did not handshake may still serve its requests: same
    // certificates, and the negotiated protocol and cipher are ones this host allows.
    bool accepts_connection_of(const HostTls &other, uint16_t version, uint16_t suite) const;
};

// Everything connections need, built once per configuration (re)load. Read-only afterwards,
// shared by all threads of a child.
struct CompiledConfig {
    std::vector<EngineAddress> engines;
    std::vector<std::unique_ptr<HostTls>> hosts;

    bool is_tls_address(const apr_sockaddr_t *local) const;
};

// The configuration in force (nullptr before the first post_config or when TLSEngine is unused).
const CompiledConfig *compiled_config();

// The post_config hook's work. Logs and returns an HTTP status (!OK) on a configuration error.
int compile_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *main_server);

}  // namespace mod_tls
