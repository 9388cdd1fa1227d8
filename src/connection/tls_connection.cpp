#include "connection/tls_connection.h"

#include <algorithm>
#include <string>

#include "apache/pool_owned.h"
#include "config/server_config.h"
#include "connection/host_selection.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

constexpr uint16_t kAlertInternalError = 80;

// Chooses the host from the ClientHello's SNI (else the address's default host) and continues
// the handshake with its config.
tls::Status on_client_hello(void *ctx, tls::Connection &session) {
    auto *tc = static_cast<TlsConnection *>(ctx);
    const tls::ClientHello hello = session.client_hello();
    server_rec *s = host_for_sni(tc->c, hello.sni);
    if (s == nullptr) s = tc->c->base_server;
    const HostTls *host = server_config(s)->compiled;
    if (host == nullptr) {
        session.reject(kAlertInternalError);
        return tls::Error(TLSB_ERR_CONFIG, "no TLS configuration for host " + std::string(
                                               s->server_hostname ? s->server_hostname : "?"));
    }
    tc->host = host;
    tc->c->base_server = s;

    // ALPN: HTTP/1.1 when the client offers it; other protocols come with virtual host support.
    const bool offers_http11 =
        std::find(hello.alpn.begin(), hello.alpn.end(), "http/1.1") != hello.alpn.end();
    return session.select_config(host->config, offers_http11 ? "http/1.1" : "");
}

void on_handshake_done(void *ctx, tls::Connection &session) {
    auto *tc = static_cast<TlsConnection *>(ctx);
    if (!APLOGctrace1(tc->c) && !APLOGcdebug(tc->c)) return;
    const std::string sni(session.sni());
    const std::string alpn(session.alpn());
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, tc->c,
                  "TLS handshake completed: %s, %s, ALPN %s, SNI %s, host %s",
                  std::string(tls::protocol_name(session.protocol_version())).c_str(),
                  std::string(tls::cipher_suite_name(session.cipher_suite())).c_str(),
                  alpn.empty() ? "-" : alpn.c_str(), sni.empty() ? "-" : sni.c_str(),
                  tc->host ? tc->host->name.c_str() : "-");
}

}  // namespace

TlsConnection::TlsConnection(conn_rec *conn, tls::Connection session)
    : c(conn), stream(conn, std::move(session), {on_client_hello, on_handshake_done, this}) {}

TlsConnection *tls_connection(const conn_rec *c) {
    if (c == nullptr || c->conn_config == nullptr) return nullptr;
    return static_cast<TlsConnection *>(ap_get_module_config(c->conn_config, &tls_module));
}

int attach_connection(conn_rec *c, void *) {
    if (c->master != nullptr) return DECLINED;  // HTTP/2 streams ride on their master's TLS
    const CompiledConfig *cc = compiled_config();
    if (cc == nullptr || !cc->is_tls_address(c->local_addr)) return DECLINED;

    auto session = tls::Connection::new_server();
    if (!session) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c, "TLS: %s", session.error().describe().c_str());
        c->aborted = 1;
        return DONE;
    }
    auto *tc = make_pool_owned<TlsConnection>(c->pool, c, std::move(session.value()));
    ap_set_module_config(c->conn_config, &tls_module, tc);
    tc->stream.add_filters();
    return OK;
}

int run_handshake(conn_rec *c) {
    TlsConnection *tc = tls_connection(c);
    if (tc == nullptr || c->aborted) return DECLINED;
    apr_bucket_brigade *bb = apr_brigade_create(c->pool, c->bucket_alloc);
    apr_status_t rv = ap_get_brigade(c->input_filters, bb, AP_MODE_INIT, APR_BLOCK_READ, 0);
    apr_brigade_destroy(bb);
    if (rv != APR_SUCCESS || tc->stream.failed()) {
        c->aborted = 1;
        c->keepalive = AP_CONN_CLOSE;
        return DONE;
    }
    return DECLINED;  // HTTP (or another protocol) serves the connection now
}

int is_tls_connection(conn_rec *c) {
    return tls_connection(c) != nullptr ? OK : DECLINED;
}

}  // namespace mod_tls

namespace mod_tls {

const char *scheme_of(const request_rec *r) {
    return tls_connection(r->connection) != nullptr ? "https" : nullptr;
}

apr_port_t default_port_of(const request_rec *r) {
    return tls_connection(r->connection) != nullptr ? 443 : 0;
}

}  // namespace mod_tls
