#include "proxy/backend_connection.h"

#include <string_view>

#include "apache/pool_owned.h"
#include "config/dir_config.h"
#include "proxy/backend_configs.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

// Notes mod_proxy (proxy_http, proxy_http2, proxy_wstunnel) sets on the backend connection.
constexpr const char *kHostnameNote = "proxy-request-hostname";
constexpr const char *kAlpnNote = "proxy-request-alpn-protos";

std::string backend_address(const conn_rec *c) {
    const char *ip = c->client_ip != nullptr ? c->client_ip : "?";
    const apr_port_t port = c->client_addr != nullptr ? c->client_addr->port : 0;
    return std::string(ip) + ":" + std::to_string(port);
}

// Called on the first read or write: the request's host name and ALPN are known now.
tls::Status on_start(void *ctx, tls::Connection &session) {
    auto *bt = static_cast<BackendTls *>(ctx);
    const char *host = apr_table_get(bt->c->notes, kHostnameNote);
    const char *alpn = apr_table_get(bt->c->notes, kAlpnNote);
    // mod_proxy names the host of the URL; without that note the backend's address is
    // verified (against the certificate's IP address names).
    if (host == nullptr || *host == '\0') host = bt->c->client_ip;
    if (host == nullptr || *host == '\0') {
        return tls::Error(TLSB_ERR_CONFIG, "no host name or address to verify the backend " +
                                               backend_address(bt->c) + " by");
    }
    bt->host = host;
    bt->alpn_offered = alpn != nullptr ? alpn : "";
    return session.start_client(bt->host, bt->alpn_offered);
}

tls::Status on_hello(void *, tls::Connection &) {
    return tls::Error(TLSB_ERR_INVALID, "a backend connection received a ClientHello");
}

void on_done(void *ctx, tls::Connection &session) {
    auto *bt = static_cast<BackendTls *>(ctx);
    bt->version = session.protocol_version();
    bt->suite = session.cipher_suite();
    bt->alpn = session.alpn();
    const uint16_t group = session.kx_group();
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, bt->c,
                  "TLS handshake with backend %s (%s) completed: %s, %s, key exchange %s, ALPN %s",
                  bt->host.c_str(), backend_address(bt->c).c_str(),
                  std::string(tls::protocol_name(bt->version)).c_str(),
                  std::string(tls::cipher_suite_name(bt->suite)).c_str(),
                  group == 0 ? "none" : std::string(tls::kx_group_name(group)).c_str(),
                  bt->alpn.empty() ? "-" : bt->alpn.c_str());
}

// One line per failure, naming the backend and the reason; mod_proxy answers the client 502.
void on_failure(void *ctx, const tls::Error &error, bool during_handshake) {
    auto *bt = static_cast<BackendTls *>(ctx);
    const std::string host = !bt->host.empty()       ? bt->host
                             : bt->c->client_ip != nullptr ? std::string(bt->c->client_ip)
                                                           : std::string("?");
    if (during_handshake || !bt->stream.received_data()) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, bt->c, "TLS handshake with backend %s:%u failed: %s",
                      host.c_str(), bt->c->client_addr ? bt->c->client_addr->port : 0,
                      error.describe().c_str());
    } else {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, bt->c, "TLS connection to backend %s:%u: %s",
                      host.c_str(), bt->c->client_addr ? bt->c->client_addr->port : 0,
                      error.describe().c_str());
    }
}

const ProxySettings &settings_of(conn_rec *c, ap_conf_vector_t *dir_conf) {
    static const ProxySettings kNone{};
    ap_conf_vector_t *v = dir_conf != nullptr ? dir_conf
                          : c->base_server != nullptr ? c->base_server->lookup_defaults
                                                       : nullptr;
    const auto *dc =
        v != nullptr ? static_cast<const DirConfig *>(ap_get_module_config(v, &tls_module))
                     : nullptr;
    return dc != nullptr ? dc->proxy : kNone;
}

}  // namespace

BackendTls::BackendTls(conn_rec *conn, tls::Connection session)
    : c(conn), stream(conn, std::move(session),
                      {on_hello, on_done, on_failure, this, on_start, "backend"}) {}

BackendTls *backend_tls(const conn_rec *c) {
    if (c == nullptr || !c->outgoing || c->conn_config == nullptr) return nullptr;
    return static_cast<BackendTls *>(ap_get_module_config(c->conn_config, &tls_module));
}

int bind_outgoing(conn_rec *c, ap_conf_vector_t *dir_conf, int enable_ssl) {
    // mod_proxy may bind a reused connection again: it keeps the TLS it has.
    if (backend_tls(c) != nullptr) return enable_ssl ? OK : DECLINED;
    if (!enable_ssl) return DECLINED;
    const ProxySettings &ps = settings_of(c, dir_conf);
    if (!ps.engine_on()) return DECLINED;  // mod_ssl's SSLProxyEngine may take it

    std::string error;
    const tls::ClientConfig *config = backend_config_for(ps, &error);
    auto session = config != nullptr ? tls::Connection::new_client(*config)
                                     : tls::Result<tls::Connection>(
                                           tls::Error(TLSB_ERR_CONFIG, error));
    if (!session) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c, "TLS to backend %s: %s",
                      backend_address(c).c_str(), session.error().describe().c_str());
        return DECLINED;  // mod_proxy then refuses the request (500)
    }
    auto *bt = make_pool_owned<BackendTls>(c->pool, c, std::move(session.value()));
    ap_set_module_config(c->conn_config, &tls_module, bt);
    return OK;
}

int attach_backend(conn_rec *c, void *) {
    BackendTls *bt = backend_tls(c);
    if (bt == nullptr || bt->filters_added) return DECLINED;
    bt->stream.add_filters();
    bt->filters_added = true;
    return OK;
}

int is_backend_tls(conn_rec *c) { return backend_tls(c) != nullptr ? OK : DECLINED; }

const char *lookup_backend_var(apr_pool_t *p, server_rec *, conn_rec *c, request_rec *r,
                               const char *name) {
    if (r != nullptr || name == nullptr) return nullptr;  // request variables are the client's
    const BackendTls *bt = backend_tls(c);
    if (bt == nullptr) return nullptr;
    const std::string_view n(name);
    if (n == "HTTPS") return "on";
    if (bt->version == 0) return nullptr;
    if (n == "SSL_PROTOCOL")
        return apr_pstrdup(p, std::string(tls::protocol_name(bt->version)).c_str());
    if (n == "SSL_CIPHER")
        return apr_pstrdup(p, std::string(tls::cipher_suite_name(bt->suite)).c_str());
    if (n == "SSL_TLS_SNI") return apr_pstrdup(p, bt->host.c_str());
    if (n == "SSL_ALPN" || n == "SSL_ALPN_PROTOCOL") return apr_pstrdup(p, bt->alpn.c_str());
    return nullptr;
}

}  // namespace mod_tls
