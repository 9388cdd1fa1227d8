// Client certificate authentication of one host: the directives TLSClientCA,
// TLSClientCertificate, TLSUserName and TLSClientCRL (server and vhost scope), their merge, and
// their compilation into the bridge's verifier at post_config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apache/includes.h"
#include "config/directive_site.h"
#include "rustls/client_verifier.h"

namespace mod_tls {

enum class ClientCertMode : uint8_t { kNone = 0, kOptional = 1, kRequired = 2 };

struct ClientCrlFile {
    std::string path;
    DirectiveSite site;
};

// What the directives said (unset fields come from the main server when merging).
struct ClientAuthConfig {
    std::optional<std::string> ca_path;
    DirectiveSite ca_site;
    std::optional<ClientCertMode> mode;
    DirectiveSite mode_site;
    std::optional<std::string> user_name;  // a variable name, e.g. SSL_CLIENT_S_DN_CN
    std::vector<ClientCrlFile> crls;       // all TLSClientCRL of the scope, in order
};

ClientAuthConfig merge_client_auth(const ClientAuthConfig &base, const ClientAuthConfig &add);

// Directive handlers (command table in directives.cpp).
const char *set_client_ca(cmd_parms *cmd, void *, const char *arg);
const char *set_client_certificate(cmd_parms *cmd, void *, const char *arg);
const char *set_user_name(cmd_parms *cmd, void *, const char *arg);
const char *add_client_crl(cmd_parms *cmd, void *, const char *arg);

// The compiled settings of one host.
struct CompiledClientAuth {
    ClientCertMode mode = ClientCertMode::kNone;
    std::optional<tls::ClientVerifier> verifier;  // set unless mode is none
    std::string user_name;                        // TLSUserName, empty if unset
    // Identifies the verification settings: hosts whose identities differ never serve each
    // other's requests on one connection.
    std::string identity;
};

// Reads the CA and CRL files and builds the verifier. Returns an error message naming the
// directive, its file and line and the fix, or empty on success. `host` describes the host.
std::string compile_client_auth(apr_pool_t *ptemp, const ClientAuthConfig &conf,
                                const std::string &host, CompiledClientAuth &out);

}  // namespace mod_tls
