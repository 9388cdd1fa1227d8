#include "config/compile.h"

#include <algorithm>
#include <span>

#include <ap_listen.h>

#include "apache/pool_owned.h"
#include "config/cipher_names.h"
#include "config/protocol_version.h"
#include "config/mod_ssl_claims.h"
#include "config/server_config.h"
#include "config/startup_warnings.h"
#include "integration/md_certificates.h"
#include "integration/session_cache.h"
#include "rustls/bytes.h"
#include "rustls/connection.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

const CompiledConfig *g_compiled = nullptr;

apr_status_t forget_compiled(void *) {
    g_compiled = nullptr;
    return APR_SUCCESS;
}

// "0.0.0.0" / "::" — how Apache stores "*" and "_default_" addresses.
bool is_wildcard(const apr_sockaddr_t *sa) {
    if (sa == nullptr || sa->ipaddr_ptr == nullptr) return true;
    const auto *bytes = static_cast<const unsigned char *>(sa->ipaddr_ptr);
    for (unsigned char b : std::span(bytes, static_cast<size_t>(sa->ipaddr_len))) {
        if (b != 0) return false;
    }
    return true;
}

std::string host_name(const server_rec *s) {
    return s->server_hostname ? s->server_hostname : "(no ServerName)";
}

std::string host_site(const server_rec *s, const server_rec *main_server) {
    if (s == main_server) return "the main server";
    std::string out = "<VirtualHost> ";
    if (s->defn_name) out += std::string("at ") + s->defn_name + ":" + std::to_string(s->defn_line_number);
    return out + " (ServerName " + host_name(s) + ")";
}

// The engine address through which virtual host s can receive connections, or nullptr.
const EngineAddress *engine_of_vhost(const CompiledConfig &cc, const server_rec *s) {
    for (const server_addr_rec *a = s->addrs; a != nullptr; a = a->next) {
        for (const EngineAddress &e : cc.engines) {
            if (a->host_port != 0 && a->host_port != e.port) continue;
            if (engine_overlaps(e, a->host_addr, is_wildcard(a->host_addr))) return &e;
        }
    }
    return nullptr;
}

// Whether some virtual host is defined for connections to this listening address (else the
// main server answers them).
bool vhost_covers(const server_rec *main_server, const apr_sockaddr_t *bind_addr) {
    for (const server_rec *s = main_server->next; s != nullptr; s = s->next) {
        for (const server_addr_rec *a = s->addrs; a != nullptr; a = a->next) {
            if (a->host_port != 0 && a->host_port != bind_addr->port) continue;
            if (is_wildcard(a->host_addr) || is_wildcard(bind_addr) ||
                apr_sockaddr_equal(a->host_addr, bind_addr))
                return true;
        }
    }
    return false;
}

// The engine address through which the main server can receive connections, or nullptr.
const EngineAddress *engine_of_main(const CompiledConfig &cc, const server_rec *main_server) {
    for (const ap_listen_rec *lr = ap_listeners; lr != nullptr; lr = lr->next) {
        for (const EngineAddress &e : cc.engines) {
            if (lr->bind_addr->port != e.port) continue;
            if (!engine_overlaps(e, lr->bind_addr, is_wildcard(lr->bind_addr))) continue;
            if (!vhost_covers(main_server, lr->bind_addr)) return &e;
        }
    }
    return nullptr;
}

void warn_engines_without_listener(const CompiledConfig &cc) {
    for (const EngineAddress &e : cc.engines) {
        bool listened = false;
        for (const ap_listen_rec *lr = ap_listeners; lr != nullptr && !listened; lr = lr->next) {
            listened = lr->bind_addr->port == e.port &&
                       engine_overlaps(e, lr->bind_addr, is_wildcard(lr->bind_addr));
        }
        if (!listened) {
            defer_startup_warning("TLSEngine " + e.text + " at " + e.site.describe() +
                                  ": no Listen directive opens this address, so nothing is "
                                  "served on it; add 'Listen " + e.text + "'");
        }
    }
}

// Whether s has TLSCertificate lines of its own (a virtual host without them inherits the main
// server's, which the merge shares rather than copies).
bool has_own_certificates(const server_rec *s, const server_rec *main_server) {
    const auto &certs = server_config(s)->certificates;
    if (certs.empty() || s == main_server) return !certs.empty();
    const auto &inherited = server_config(main_server)->certificates;
    return inherited.empty() || inherited.front().key != certs.front().key;
}

// The certificates a host serves: its own TLSCertificate lines; else what mod_md supplies for
// it (its certificate, or its fallback while it has none); else the main server's.
std::string choose_certificates(server_rec *s, const server_rec *main_server, apr_pool_t *p,
                                std::vector<CertificateEntry> &out, bool &md_fallback) {
    ServerConfig *conf = server_config(s);
    out = conf->certificates;
    md_fallback = false;
    if (has_own_certificates(s, main_server)) return {};
    MdCertificates md = md_certificates_for(s, p);
    if (!md.error.empty()) return host_site(s, main_server) + ": " + md.error;
    if (md.entries.empty()) return {};
    out = std::move(md.entries);
    md_fallback = md.fallback;
    if (md_fallback && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "TLS: %s has no certificate from mod_md yet; it is served with mod_md's "
                     "temporary fallback certificate and answers every request with 503 until "
                     "mod_md has obtained one (a graceful restart activates it)",
                     host_site(s, main_server).c_str());
    }
    return {};
}

// Builds the rustls config of one host. Returns an error message, or empty on success.
std::string compile_host(CompiledConfig &cc, apr_pool_t *ptemp, server_rec *s,
                         const server_rec *main_server, const EngineAddress &engine,
                         apr_pool_t *pconf) {
    ServerConfig *conf = server_config(s);
    std::vector<CertificateEntry> certificates;
    bool md_fallback = false;
    std::string chosen = choose_certificates(s, main_server, pconf, certificates, md_fallback);
    if (!chosen.empty()) return chosen;
    if (certificates.empty()) {
        return "TLSEngine " + engine.text + " at " + engine.site.describe() + " serves " +
               host_site(s, main_server) +
               ", which has no certificate; add 'TLSCertificate cert.pem key.pem' to that host "
               "(or to the main server), or cover its name with an MDomain of mod_md";
    }
    static const std::vector<uint16_t> kNone;
    tls::ServerConfigParams params;
    params.cipher_suites = order_cipher_suites(
        tls::supported_cipher_suites(), conf->ciphers_prefer ? *conf->ciphers_prefer : kNone,
        conf->ciphers_suppress ? *conf->ciphers_suppress : kNone);
    if (params.cipher_suites.empty()) {
        return "TLSCiphersSuppress leaves " + host_site(s, main_server) +
               " without any cipher suite; suppress fewer suites";
    }
    // A version whose suites are all suppressed is disabled.
    for (uint16_t v : versions_from(conf->min_protocol.value_or(kTls12))) {
        const bool has_suite = std::any_of(params.cipher_suites.begin(), params.cipher_suites.end(),
                                           [v](uint16_t id) { return is_tls13_suite(id) == (v == kTls13); });
        if (has_suite) params.versions.push_back(v);
    }
    if (params.versions.empty()) {
        return "TLSProtocol and TLSCiphersSuppress leave " + host_site(s, main_server) +
               " without any protocol version: every suite of the allowed versions is "
               "suppressed; suppress fewer suites or lower TLSProtocol";
    }
    params.honor_client_order = conf->honor_client_order.value_or(true);
    if (conf->kx_groups) params.kx_groups = *conf->kx_groups;
    for (const CertificateEntry &c : certificates) params.keys.push_back(c.key.get());
    params.alpn = {kAlpnHttp11, kAlpnH2, kAlpnAcme};
    CompiledClientAuth client_auth;
    if (std::string err = compile_client_auth(ptemp, conf->client_auth, host_site(s, main_server),
                                              client_auth);
        !err.empty())
        return err;
    if (client_auth.verifier) params.client_verifier = &*client_auth.verifier;
    apply_resumption_settings(params, main_server);
    // Sessions resume only on a host with the same name, certificates and client-certificate
    // policy (as mod_ssl's per-vhost session id context): the same host on every server of a
    // cluster, never another host that answers the same SNI with other certificates or rules.
    params.session_scope = s == main_server ? "main server" : host_name(s);
    for (const CertificateEntry &c : certificates) {
        const auto id = c.key->ocsp_id();  // SHA-256 of the certificate
        params.session_scope += tls::as_text(id);
    }
    params.session_scope += client_auth.identity;
    auto built = tls::ServerConfig::build(params);
    if (!built) {
        return "cannot build the TLS configuration of " + host_site(s, main_server) + ": " +
               built.error().message();
    }
    auto host = std::make_unique<HostTls>(
        HostTls{s, s == main_server ? "main server" : host_name(s), std::move(built.value()),
                {}, params.versions, params.cipher_suites, conf->strict_sni.value_or(true),
                false, {}, client_auth.mode, client_auth.user_name, client_auth.identity});
    std::vector<std::shared_ptr<const tls::CertifiedKey>> keys;
    std::vector<std::string> cert_paths;
    for (const CertificateEntry &c : certificates) {
        host->certificate_files.push_back(c.cert_path + "|" + c.key_path);
        keys.push_back(c.key);
        cert_paths.push_back(c.cert_path);
    }
    host->md_fallback = md_fallback;
    host->ocsp = prime_ocsp(s, pconf, keys, cert_paths);
    conf->compiled = host.get();
    cc.hosts.push_back(std::move(host));
    return {};
}

}  // namespace

bool HostTls::accepts_connection_of(const HostTls &other, uint16_t version,
                                     uint16_t suite) const {
    if (&other == this) return true;
    // A connection whose handshake did not check client certificates as this host does (or
    // checked them against other CAs) never serves this host's requests.
    return certificate_files == other.certificate_files &&
           client_auth_identity == other.client_auth_identity &&
           std::find(versions.begin(), versions.end(), version) != versions.end() &&
           std::find(cipher_suites.begin(), cipher_suites.end(), suite) != cipher_suites.end();
}

bool CompiledConfig::is_tls_address(const apr_sockaddr_t *local) const {
    for (const EngineAddress &e : engines) {
        if (engine_matches(e, local)) return true;
    }
    return false;
}

const CompiledConfig *compiled_config() { return g_compiled; }

int compile_config(apr_pool_t *pconf, apr_pool_t *, apr_pool_t *ptemp, server_rec *main_server) {
    g_compiled = nullptr;
    const ServerConfig *main_conf = server_config(main_server);
    if (main_conf->engines.empty()) {
        log_startup_warnings(main_server);
        return OK;
    }

    auto *cc = make_pool_owned<CompiledConfig>(pconf);
    cc->engines = main_conf->engines;
    warn_engines_without_listener(*cc);
    log_startup_warnings(main_server);

    for (server_rec *s = main_server; s != nullptr; s = s->next) {
        const EngineAddress *engine =
            s == main_server ? engine_of_main(*cc, main_server) : engine_of_vhost(*cc, s);
        if (engine == nullptr) continue;
        std::string err = mod_ssl_enabled_for(s, main_server)
                              ? "TLSEngine " + engine->text + " at " + engine->site.describe() +
                                    " and 'SSLEngine on' in " + host_site(s, main_server) +
                                    " both claim address " + engine->text +
                                    "; an address is served by mod_tls or by mod_ssl, not both: "
                                    "remove one of them"
                              : compile_host(*cc, ptemp, s, main_server, *engine, pconf);
        if (!err.empty()) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, main_server, "%s", err.c_str());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    g_compiled = cc;
    apr_pool_cleanup_register(pconf, nullptr, forget_compiled, apr_pool_cleanup_null);
    return OK;
}

}  // namespace mod_tls
