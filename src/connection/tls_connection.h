// Per-connection TLS state of a frontend connection and the connection hooks that create and
// drive it: attach on TLS addresses, choose the host from the ClientHello, handshake before HTTP.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apache/includes.h"
#include "config/compile.h"
#include "connection/handshake_wakeup.h"
#include "filters/tls_stream.h"

namespace mod_tls {

// What the handshake settled, copied once it completes: HTTP/2 streams read it from their own
// threads while the connection's thread goes on using the session, so nobody reads the session
// itself after the handshake but that thread.
struct Negotiated {
    bool done = false;
    uint16_t version = 0;
    uint16_t suite = 0;
    uint16_t kx_group = 0;  // IANA id; 0: none (a TLS 1.2 resumption)
    bool resumed = false;
    std::string sni;
    std::string alpn;
    std::string server_cert;              // DER of the certificate sent
    std::vector<std::string> peer_certs;  // DER, the client's own first
};

struct TlsConnection {
    TlsConnection(conn_rec *c, tls::Connection session);

    conn_rec *c;
    TlsStream stream;
    const HostTls *host = nullptr;  // chosen from the ClientHello
    server_rec *server = nullptr;   // the host's server_rec
    const char *alpn = nullptr;     // protocol agreed by ALPN, nullptr for none
    // The version the handshake settles on, known from the ClientHello so that modules asking
    // during ALPN selection (mod_http2) get an answer before rustls reports it.
    uint16_t expected_version = 0;

    uint16_t protocol_version() const;
    bool refuse_requests = false;   // no SNI on an address with several hosts, TLSStrictSNI on
    // An ACME tls-alpn-01 challenge, or a host served with mod_md's fallback certificate:
    // every request gets 503.
    bool unavailable = false;
    Negotiated negotiated;          // set when the handshake completes
    struct VarsCache *vars = nullptr;  // parsed certificates for SSL_* variables (vars/vars_cache.h)
    HandshakeWakeup wakeup;         // armed while an asynchronous handshake waits for the client
    bool short_wait_used = false;   // the one short wait on the thread (run_handshake)
};

// The TLS state of c (of its master connection for HTTP/2 streams), or nullptr if not ours.
TlsConnection *tls_connection(const conn_rec *c);

// pre_connection hook: attach to connections that arrive on a TLSEngine address.
int attach_connection(conn_rec *c, void *csd);
// process_connection hook: complete the handshake before any protocol reads a byte. On an MPM
// that can wait for I/O (event), a handshake that needs more from the client is handed back to
// the MPM (CONN_STATE_ASYNC_WAITIO) and resumed here when the client sends more.
int run_handshake(conn_rec *c);
// ssl_conn_is_ssl hook.
int is_tls_connection(conn_rec *c);
// post_read_request hook: 403 without SNI where SNI is required, 421 when the request's host may
// not be served on a connection whose handshake chose another host, 503 on ACME challenge
// connections and on hosts served with mod_md's fallback certificate.
int check_request_host(request_rec *r);

}  // namespace mod_tls

namespace mod_tls {

// http_scheme / default_port hooks: URLs built on TLS connections say https and 443.
const char *scheme_of(const request_rec *r);
apr_port_t default_port_of(const request_rec *r);

}  // namespace mod_tls
