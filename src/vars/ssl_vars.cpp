#include "vars/ssl_vars.h"

#include <string>
#include <string_view>

#include "connection/tls_connection.h"

namespace mod_tls {

namespace {

const char *copy(apr_pool_t *p, std::string_view v) {
    return apr_pstrmemdup(p, v.data(), v.size());
}

}  // namespace

const char *lookup_ssl_var(apr_pool_t *p, server_rec *, conn_rec *c, request_rec *r,
                           const char *name) {
    if (c == nullptr && r != nullptr) c = r->connection;
    const TlsConnection *tc = tls_connection(c);
    if (tc == nullptr || name == nullptr) return nullptr;
    const tls::Connection &session = tc->stream.session();
    const std::string_view var(name);

    if (var == "HTTPS") return "on";
    if (var == "SSL_PROTOCOL") return copy(p, tls::protocol_name(tc->protocol_version()));
    if (var == "SSL_CIPHER") return copy(p, tls::cipher_suite_name(session.cipher_suite()));
    if (var == "SSL_TLS_SNI") return copy(p, session.sni());
    if (var == "SSL_VERSION_INTERFACE") return "mod_tls/" MOD_TLS_VERSION;
    if (var == "SSL_VERSION_LIBRARY") return copy(p, tlsb_rustls_version());
    return nullptr;
}

}  // namespace mod_tls
