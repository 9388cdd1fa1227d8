#include "vars/ssl_vars.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "apache/pool_owned.h"
#include "config/dir_config.h"
#include "connection/tls_connection.h"
#include "rustls/bytes.h"
#include "rustls/cert_info.h"
#include "vars/cert_vars.h"
#include "vars/vars_cache.h"

namespace mod_tls {

namespace {

using CertPtr = std::shared_ptr<const tls::CertInfo>;

const char *copy(apr_pool_t *p, std::string_view v) {
    return apr_pstrmemdup(p, v.data(), v.size());
}

const char *copy_opt(apr_pool_t *p, const std::optional<std::string> &v) {
    return v ? copy(p, std::string_view(*v)) : nullptr;
}

CertPtr parse(std::span<const uint8_t> der) {
    if (der.empty()) return nullptr;
    auto parsed = tls::CertInfo::parse(der);
    if (!parsed) return nullptr;
    return std::make_shared<const tls::CertInfo>(std::move(parsed.value()));
}

// Server certificates are few and the same for many connections: each is parsed once per process
// and shared (immutable) by all connections and threads. Bounded, in case certificates change
// without the process being replaced.
CertPtr shared_server_cert(std::span<const uint8_t> der) {
    static std::mutex mutex;
    static std::map<std::string, CertPtr, std::less<>> parsed;
    constexpr size_t kMaxEntries = 256;
    const std::string_view key = tls::as_text(der);
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (auto it = parsed.find(key); it != parsed.end()) return it->second;
    }
    CertPtr info = parse(der);
    if (info == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mutex);
    if (parsed.size() < kMaxEntries) parsed.emplace(std::string(key), info);
    return info;
}

// The certificate sent to the client: parsed on first use, then kept for the connection.
std::span<const uint8_t> bytes(const std::string &der) { return tls::as_u8(der); }

CertPtr server_cert(const TlsConnection &tc) {
    const std::span<const uint8_t> der = bytes(tc.negotiated.server_cert);
    if (tc.vars == nullptr) return shared_server_cert(der);
    std::call_once(tc.vars->server_once, [&] { tc.vars->server = shared_server_cert(der); });
    return tc.vars->server;
}

// The client's certificate, when it sent one: parsed on first use, then kept.
CertPtr client_cert(const TlsConnection &tc) {
    const auto &peer = tc.negotiated.peer_certs;
    if (peer.empty()) return nullptr;
    if (tc.vars == nullptr) return parse(bytes(peer[0]));
    std::call_once(tc.vars->client_once, [&] { tc.vars->client = parse(bytes(peer[0])); });
    return tc.vars->client;
}

int64_t now_seconds() { return static_cast<int64_t>(apr_time_sec(apr_time_now())); }

// SSL_CLIENT_VERIFY. rustls refuses an invalid client certificate in the handshake, so a
// certificate that is present has been verified.
std::string_view client_verify(const TlsConnection &tc) {
    return tc.negotiated.peer_certs.empty() ? "NONE" : "SUCCESS";
}

// SSL_CLIENT_CHAIN_n: the client's chain after its own certificate, as PEM.
const char *client_chain(apr_pool_t *p, const TlsConnection &tc, std::string_view digits) {
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
        return nullptr;
    auto n = cert_vars_detail::index_of(digits);
    if (!n || *n + 1 >= tc.negotiated.peer_certs.size()) return nullptr;
    CertPtr cert = parse(bytes(tc.negotiated.peer_certs[*n + 1]));
    return cert ? copy(p, cert->pem()) : nullptr;
}

const char *key_bits(apr_pool_t *p, uint16_t suite) {
    const unsigned bits = tls::cipher_key_bits(suite);
    return bits != 0 ? apr_psprintf(p, "%u", bits) : nullptr;
}

const char *lookup(apr_pool_t *p, const TlsConnection &tc, std::string_view var) {
    const Negotiated &n = tc.negotiated;
    if (var == "HTTPS") return "on";
    if (!var.starts_with("SSL_")) return nullptr;
    var.remove_prefix(4);
    if (var == "PROTOCOL") return copy(p, tls::protocol_name(tc.protocol_version()));
    if (var == "CIPHER") return n.done ? copy(p, tls::cipher_suite_name(n.suite)) : nullptr;
    if (var == "KEY_EXCHANGE") {
        // Unset for a TLS 1.2 resumption, which makes no new key exchange.
        return n.done && n.kx_group != 0 ? copy(p, tls::kx_group_name(n.kx_group)) : nullptr;
    }
    if (var == "TLS_SNI") return copy(p, n.sni);
    if (var == "VERSION_INTERFACE") return "mod_tls/" MOD_TLS_VERSION;
    if (var == "VERSION_LIBRARY") return copy(p, tlsb_rustls_version());
    if (var == "SECURE_RENEG") return "false";
    if (var == "COMPRESS_METHOD") return "NULL";
    if (var == "CIPHER_EXPORT") return "false";
    if (var == "CIPHER_USEKEYSIZE" || var == "CIPHER_ALGKEYSIZE") return key_bits(p, n.suite);
    if (var == "SESSION_RESUMED") return n.resumed ? "Resumed" : "Initial";
    if (var == "CLIENT_VERIFY") return copy(p, client_verify(tc));
    if (var.starts_with("SERVER_")) {
        CertPtr cert = server_cert(tc);
        return cert ? copy_opt(p, cert_variable(*cert, var.substr(7), now_seconds())) : nullptr;
    }
    if (var.starts_with("CLIENT_CHAIN_")) return client_chain(p, tc, var.substr(13));
    if (var.starts_with("CLIENT_")) {
        CertPtr cert = client_cert(tc);
        return cert ? copy_opt(p, cert_variable(*cert, var.substr(7), now_seconds())) : nullptr;
    }
    return nullptr;
}

// mod_ssl's StdEnvVars list of connection variables (the certificate ones come per certificate).
constexpr const char *kStdEnvVars[] = {
    "SSL_VERSION_INTERFACE", "SSL_VERSION_LIBRARY",   "SSL_SECURE_RENEG",
    "SSL_COMPRESS_METHOD",   "SSL_CIPHER_EXPORT",     "SSL_CIPHER_USEKEYSIZE",
    "SSL_CIPHER_ALGKEYSIZE", "SSL_CLIENT_VERIFY",     "SSL_SESSION_RESUMED",
    "SSL_KEY_EXCHANGE",
};

// Always exported on TLS requests, as Apache's mod_tls did (mod_ssl: HTTPS and SSL_TLS_SNI).
constexpr const char *kAlwaysVars[] = {"HTTPS", "SSL_TLS_SNI", "SSL_PROTOCOL", "SSL_CIPHER"};

void set_env(request_rec *r, const TlsConnection &tc, const char *name) {
    const char *v = lookup(r->pool, tc, name);
    if (v != nullptr && *v != '\0') apr_table_setn(r->subprocess_env, name, v);
}

void export_cert(request_rec *r, const CertPtr &cert, std::string_view prefix, bool client) {
    if (cert == nullptr) return;
    for_each_cert_variable(*cert, prefix, client, now_seconds(),
                           [r](const std::string &name, std::string_view value) {
                               apr_table_setn(r->subprocess_env, copy(r->pool, name),
                                              copy(r->pool, value));
                           });
}

}  // namespace

const char *lookup_ssl_var(apr_pool_t *p, server_rec *, conn_rec *c, request_rec *r,
                           const char *name) {
    if (c == nullptr && r != nullptr) c = r->connection;
    const TlsConnection *tc = tls_connection(c);
    if (tc == nullptr || name == nullptr) return nullptr;
    return lookup(p, *tc, name);
}

int attach_vars_cache(conn_rec *c, void *) {
    if (c->master != nullptr) return DECLINED;  // HTTP/2 streams share their master's cache
    TlsConnection *tc = tls_connection(c);
    if (tc != nullptr && tc->vars == nullptr) tc->vars = make_pool_owned<VarsCache>(c->pool);
    return DECLINED;
}

int export_ssl_vars(request_rec *r) {
    const TlsConnection *tc = tls_connection(r->connection);
    if (tc == nullptr) return DECLINED;
    for (const char *name : kAlwaysVars) set_env(r, *tc, name);

    const TlsOptions &options = dir_config(r)->options;
    if (options.std_env_vars_on()) {
        for (const char *name : kStdEnvVars) set_env(r, *tc, name);
        export_cert(r, server_cert(*tc), "SSL_SERVER_", false);
        export_cert(r, client_cert(*tc), "SSL_CLIENT_", true);
    }
    if (options.export_cert_data_on()) {
        set_env(r, *tc, "SSL_SERVER_CERT");
        set_env(r, *tc, "SSL_CLIENT_CERT");
        const size_t chain = tc->negotiated.peer_certs.size();
        for (size_t i = 0; i + 1 < chain; ++i) {
            const std::string name = "SSL_CLIENT_CHAIN_" + std::to_string(i);
            const char *v = lookup(r->pool, *tc, name);
            if (v != nullptr) apr_table_setn(r->subprocess_env, copy(r->pool, name), v);
        }
    }
    return DECLINED;
}

}  // namespace mod_tls
