#include "connection/tls_connection.h"

#include <ap_mpm.h>
#include <poll.h>

#include <algorithm>
#include <string>

#include "apache/pool_owned.h"
#include "config/cipher_names.h"
#include "config/protocol_version.h"
#include "config/server_config.h"
#include "connection/host_selection.h"
#include "integration/acme_challenge.h"
#include "integration/ocsp_stapling.h"
#include "integration/tls_status.h"
#include "rustls/bytes.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

constexpr uint16_t kAlertInternalError = 80;
constexpr uint16_t kAlertUnrecognizedName = 112;
constexpr uint16_t kAlertNoApplicationProtocol = 120;

tls::Status refuse(tls::Connection &session, uint16_t alert, const std::string &why) {
    session.reject(alert);
    return tls::Error(TLSB_ERR_TLS, why, alert);
}

// The protocol to agree on by ALPN: Apache chooses among the client's offers by the host's
// Protocols (and ProtocolsHonorOrder). nullptr when the client offered none; "" when none of
// its offers is served.
const char *choose_alpn(conn_rec *c, server_rec *s, const std::vector<std::string_view> &offers) {
    if (offers.empty()) return nullptr;
    auto *list = apr_array_make(c->pool, static_cast<int>(offers.size()), sizeof(const char *));
    for (std::string_view p : offers)
        APR_ARRAY_PUSH(list, const char *) = apr_pstrmemdup(c->pool, p.data(), p.size());
    const char *chosen = ap_select_protocol(c, nullptr, s, list);
    if (chosen == nullptr) return "";
    for (std::string_view p : offers) {
        if (p == chosen) return chosen;
    }
    return "";  // Apache kept the current protocol, which the client did not offer
}

std::string join(const std::vector<std::string_view> &items) {
    std::string out;
    for (std::string_view i : items) out += (out.empty() ? "" : ",") + std::string(i);
    return out;
}

int count_host(void *count, conn_rec *, server_rec *) {
    ++*static_cast<int *>(count);
    return 0;
}

// Whether several name-based hosts share the connection's address.
bool address_has_several_hosts(conn_rec *c) {
    int count = 0;
    ap_vhost_iterate_given_conn(c, count_host, &count);
    return count > 1;
}

// Chooses the host from the ClientHello's SNI and continues the handshake with its config.
// Unknown SNI: refused with unrecognized_name under TLSStrictSNI (the address's first host's
// value), else served by that first host, as is a ClientHello without SNI.
tls::Status on_client_hello(void *ctx, tls::Connection &session) {
    auto *tc = static_cast<TlsConnection *>(ctx);
    const tls::ClientHello hello = session.client_hello();
    server_rec *first = tc->c->base_server;
    const HostTls *first_host = server_config(first)->compiled;
    const bool strict = first_host == nullptr || first_host->strict_sni;

    server_rec *s = host_for_sni(tc->c, hello.sni);
    if (s == nullptr && !hello.sni.empty() && strict) {
        return refuse(session, kAlertUnrecognizedName,
                      "unknown SNI '" + std::string(hello.sni) +
                          "': no host on this address has that name (TLSStrictSNI on)");
    }
    if (s == nullptr) s = first;
    if (hello.sni.empty() && strict && address_has_several_hosts(tc->c))
        tc->refuse_requests = true;

    const HostTls *host = server_config(s)->compiled;
    if (host == nullptr) {
        return refuse(session, kAlertInternalError,
                      "no TLS configuration for host " +
                          std::string(s->server_hostname ? s->server_hostname : "?"));
    }
    tc->host = host;
    tc->server = s;
    tc->c->base_server = s;
    const bool client_has_tls13 = std::any_of(hello.cipher_suites.begin(), hello.cipher_suites.end(),
                                              [](uint16_t id) { return is_tls13_suite(id); });
    const bool host_has_tls13 =
        std::find(host->versions.begin(), host->versions.end(), kTls13) != host->versions.end();
    tc->expected_version = client_has_tls13 && host_has_tls13 ? kTls13 : kTls12;

    const char *alpn = choose_alpn(tc->c, s, hello.alpn);
    if (alpn != nullptr && *alpn == '\0') {
        return refuse(session, kAlertNoApplicationProtocol,
                      "no application protocol in common: the client offered " +
                          join(hello.alpn) + ", host " + host->name + " serves none of them");
    }
    tc->alpn = alpn;
    tc->unavailable = host->md_fallback;
    if (alpn != nullptr && std::string_view(alpn) == kAlpnAcme) {
        tc->unavailable = true;
        if (auto challenge = acme_challenge_config(tc->c, s, hello.sni))
            return session.select_config(*challenge, kAlpnAcme);
    }
    if (!host->ocsp.empty()) refresh_ocsp(s, tc->c, host->ocsp);
    return session.select_config(host->config, alpn ? alpn : "");
}

// One info line per failed connection (client address, SNI, reason), and the counters.
void on_failure(void *ctx, const tls::Error &error, bool during_handshake) {
    auto *tc = static_cast<TlsConnection *>(ctx);
    const std::string sni(tc->stream.session().sni());
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, tc->c, "TLS %s: %s, SNI: %s",
                  during_handshake ? "handshake failed" : "connection error",
                  error.describe().c_str(), sni.empty() ? "none" : sni.c_str());
    if (during_handshake) count_failure(error);
}

std::string der_copy(std::span<const uint8_t> der) { return std::string(tls::as_text(der)); }

void on_handshake_done(void *ctx, tls::Connection &session) {
    auto *tc = static_cast<TlsConnection *>(ctx);
    Negotiated &n = tc->negotiated;
    n.version = session.protocol_version();
    n.suite = session.cipher_suite();
    n.kx_group = session.kx_group();
    n.resumed = session.is_resumed();
    n.sni = session.sni();
    n.alpn = session.alpn();
    n.server_cert = session.server_cert(0);
    for (size_t i = 0; i < session.peer_cert_count(); ++i)
        n.peer_certs.push_back(der_copy(session.peer_cert(i)));
    n.done = true;
    count_handshake(n.version, n.suite, n.kx_group, n.alpn, n.resumed);
    // A protocol other than the connection's current one (HTTP/1.1) was agreed: hand over.
    if (tc->alpn != nullptr && std::string_view(tc->alpn) != ap_get_protocol(tc->c))
        ap_switch_protocol(tc->c, nullptr, tc->server, tc->alpn);
    if (!APLOGctrace1(tc->c) && !APLOGcdebug(tc->c)) return;
    const std::string &sni = n.sni;
    const std::string &alpn = n.alpn;
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, tc->c,
                  "TLS handshake completed: %s, %s, key exchange %s, ALPN %s, SNI %s, host %s, "
                  "resumed %s",
                  std::string(tls::protocol_name(n.version)).c_str(),
                  std::string(tls::cipher_suite_name(n.suite)).c_str(),
                  n.kx_group == 0 ? "none" : std::string(tls::kx_group_name(n.kx_group)).c_str(),
                  alpn.empty() ? "-" : alpn.c_str(), sni.empty() ? "-" : sni.c_str(),
                  tc->host ? tc->host->name.c_str() : "-", n.resumed ? "yes" : "no");
}

// Whether the MPM can hold this connection until it is readable and hand it back (event MPM).
// Not in a process that is stopping (MaxConnectionsPerChild, a graceful restart): its listener
// may already have gone, and a connection handed back then would be dropped when it exits; the
// handshake blocks there, as on other MPMs.
bool mpm_can_wait_io(const conn_rec *c) {
    static const bool can = [] {
        int answer = 0;
        return ap_mpm_query(AP_MPMQ_CAN_WAITIO, &answer) == APR_SUCCESS && answer != 0;
    }();
    if (!can || c->cs == nullptr) return false;
    int state = AP_MPMQ_RUNNING;
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) != APR_SUCCESS || state != AP_MPMQ_STOPPING;
}

// Pool pre-cleanup of a connection whose handshake waited in the MPM: the MPM closed it there
// (its Timeout, a restart) before the client finished; say so once.
apr_status_t report_abandoned(void *ctx) {
    auto *tc = static_cast<TlsConnection *>(ctx);
    tc->stream.abandon(tls::Error(TLSB_ERR_IO, "the client sent nothing more before the server "
                                               "closed the connection (Timeout, or a restart)"));
    return APR_SUCCESS;
}

// A client next to the server (same host, same network) answers our handshake flight within a
// millisecond or two; handing the connection to the MPM and back for that costs more than the
// wait (two epoll_ctl, three futex calls, a context switch and a cold thread: 10-20 % of a
// resumed handshake's server CPU in A/B runs). So the first time a handshake needs more bytes,
// it waits up to kShortWaitMs on its thread; every later wait, and any client slower than that,
// goes to the MPM. A flood of half-open handshakes thus costs a worker at most kShortWaitMs each.
constexpr int kShortWaitMs = 2;

bool readable_soon(conn_rec *c) {
    apr_os_sock_t fd = -1;
    if (apr_os_sock_get(&fd, ap_get_conn_socket(c)) != APR_SUCCESS) return false;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, kShortWaitMs) > 0;
}

// Hands the connection back to the MPM until the client sends more. The first wait arms the
// wake-up at the handshake's deadline (the whole handshake, not each wait, is bounded).
int wait_for_client(TlsConnection *tc) {
    conn_rec *c = tc->c;
    if (!tc->wakeup.armed()) {
        tc->wakeup.arm(c, handshake_limit(c));
        apr_pool_pre_cleanup_register(c->pool, tc, report_abandoned);
    }
    c->cs->state = CONN_STATE_ASYNC_WAITIO;
    c->cs->sense = CONN_SENSE_WANT_READ;
    return OK;
}

}  // namespace

TlsConnection::TlsConnection(conn_rec *conn, tls::Connection session)
    : c(conn),
      stream(conn, std::move(session),
             {on_client_hello, on_handshake_done, on_failure, this, nullptr, "client"}) {}

uint16_t TlsConnection::protocol_version() const {
    return negotiated.done ? negotiated.version : expected_version;
}

TlsConnection *tls_connection(const conn_rec *c) {
    while (c != nullptr && c->master != nullptr) c = c->master;
    // Outgoing (proxy backend) connections hold a BackendTls (proxy/backend_connection.h).
    if (c == nullptr || c->outgoing || c->conn_config == nullptr) return nullptr;
    return static_cast<TlsConnection *>(ap_get_module_config(c->conn_config, &tls_module));
}

int attach_connection(conn_rec *c, void *) {
    if (c->master != nullptr) return DECLINED;  // HTTP/2 streams ride on their master's TLS
    if (c->outgoing) return DECLINED;           // backends: proxy/backend_connection.cpp
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
    // The event MPM calls this again after every keep-alive wait: nothing to do then.
    if (tc == nullptr || c->aborted || tc->stream.handshake_done()) return DECLINED;
    const bool async = mpm_can_wait_io(c);
    apr_status_t rv = APR_SUCCESS;
    if (async && tc->wakeup.fired()) {
        rv = tc->stream.time_out();
    } else {
        for (;;) {
            apr_bucket_brigade *bb = apr_brigade_create(c->pool, c->bucket_alloc);
            rv = ap_get_brigade(c->input_filters, bb, AP_MODE_INIT,
                                async ? APR_NONBLOCK_READ : APR_BLOCK_READ, 0);
            apr_brigade_destroy(bb);
            if (!async || !APR_STATUS_IS_EAGAIN(rv) || tc->stream.failed()) break;
            if (tc->short_wait_used) return wait_for_client(tc);
            tc->short_wait_used = true;
            if (!readable_soon(c)) return wait_for_client(tc);
        }
    }
    tc->wakeup.disarm();
    if (rv != APR_SUCCESS || tc->stream.failed()) {
        c->aborted = 1;
        c->keepalive = AP_CONN_CLOSE;
        return DONE;
    }
    if (async) c->cs->state = CONN_STATE_PROCESSING;
    return DECLINED;  // HTTP (or another protocol) serves the connection now
}

int is_tls_connection(conn_rec *c) {
    return tls_connection(c) != nullptr ? OK : DECLINED;
}

int check_request_host(request_rec *r) {
    const TlsConnection *tc = tls_connection(r->connection);
    if (tc == nullptr || tc->host == nullptr) return DECLINED;
    if (tc->refuse_requests) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TLS: request without SNI on an address with several hosts refused "
                      "(TLSStrictSNI on)");
        return HTTP_FORBIDDEN;
    }
    if (tc->unavailable) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TLS: 503 on a connection served %s",
                      tc->host->md_fallback ? "with mod_md's fallback certificate (no certificate "
                                              "obtained yet)"
                                            : "for an ACME tls-alpn-01 challenge");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    const HostTls *wanted = server_config(r->server)->compiled;
    if (wanted == tc->host ||
        (wanted != nullptr && wanted->accepts_connection_of(*tc->host, tc->negotiated.version,
                                                             tc->negotiated.suite))) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "TLS: request for host %s on a connection negotiated for %s: 421 Misdirected "
                  "Request",
                  r->server->server_hostname ? r->server->server_hostname : "?",
                  tc->host->name.c_str());
    return HTTP_MISDIRECTED_REQUEST;
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
