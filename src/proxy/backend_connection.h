// TLS on mod_proxy's backend (outgoing) connections: ssl_bind_outgoing takes a connection where
// TLSProxyEngine is on, pre_connection puts the client-side TLS filters on it, and the handshake
// runs on the first write (the request), with the host name and ALPN mod_proxy leaves in the
// connection's notes.
#pragma once

#include <cstdint>
#include <string>

#include "apache/includes.h"
#include "filters/tls_stream.h"
#include "rustls/client_config.h"

namespace mod_tls {

struct BackendTls {
    BackendTls(conn_rec *c, tls::Connection session);

    conn_rec *c;
    TlsStream stream;
    bool filters_added = false;
    std::string host;  // verified and sent as SNI
    std::string alpn_offered;
    // Set when the handshake completes.
    uint16_t version = 0;
    uint16_t suite = 0;
    std::string alpn;
};

// The backend TLS state of c, or nullptr if c is not an outgoing connection mod_tls secures.
BackendTls *backend_tls(const conn_rec *c);

// ssl_bind_outgoing hook.
int bind_outgoing(conn_rec *c, ap_conf_vector_t *dir_conf, int enable_ssl);
// pre_connection hook: the TLS filters of an outgoing connection bound above.
int attach_backend(conn_rec *c, void *csd);
// ssl_conn_is_ssl hook for outgoing connections.
int is_backend_tls(conn_rec *c);
// ssl_var_lookup hook for outgoing connections: HTTPS, SSL_PROTOCOL, SSL_CIPHER, SSL_TLS_SNI.
const char *lookup_backend_var(apr_pool_t *p, server_rec *s, conn_rec *c, request_rec *r,
                               const char *name);

}  // namespace mod_tls
