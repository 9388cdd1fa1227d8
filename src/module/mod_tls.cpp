// mod_tls — the module record and its hook table: the table of contents of the module.
// TLS for Apache httpd done by rustls (through the Rust bridge in bridge/).

#include "apache/includes.h"

#include <mod_status.h>
#include "config/compile.h"
#include "config/dir_config.h"
#include "config/directives.h"
#include "config/server_config.h"
#include "config/startup_warnings.h"
#include "connection/handshake_wakeup.h"
#include "connection/tls_connection.h"
#include "filters/tls_stream.h"
#include "integration/session_cache.h"
#include "integration/tls_status.h"
#include "proxy/backend_configs.h"
#include "proxy/backend_connection.h"
#include "vars/expr_and_log.h"
#include "vars/ssl_vars.h"
#include "vars/user_name.h"

namespace {

void register_hooks(apr_pool_t *) {
    using namespace mod_tls;
    // Before the configuration is read: the `tls-session-cache` mutex type (for Mutex).
    ap_hook_pre_config(register_session_cache_mutex, nullptr, nullptr, APR_HOOK_MIDDLE);
    // After the configuration is read (parent): set up TLSSessionCache's socache. Registered
    // before compile_config (same order), which gives every host's config that store.
    ap_hook_post_config(init_session_cache, nullptr, nullptr, APR_HOOK_MIDDLE);
    // A new worker process: reattach the session cache's mutex.
    ap_hook_child_init(attach_session_cache, nullptr, nullptr, APR_HOOK_MIDDLE);
    // After the configuration is read (parent, as root): compile per-host TLS state and check
    // that every TLS address has certificates. Runs again on every restart.
    ap_hook_post_config(compile_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(create_status_counters, nullptr, nullptr, APR_HOOK_MIDDLE);
    // apache2 -t: the configuration's warnings (post_config does not run there).
    ap_hook_test_config(log_config_test_warnings, nullptr, nullptr, APR_HOOK_MIDDLE);
    // mod_status's page (and ?auto): the TLS handshake counters.
    APR_OPTIONAL_HOOK(ap, status_hook, show_status, nullptr, nullptr, APR_HOOK_MIDDLE);
    // A new connection (child): attach TLS state and filters on TLSEngine addresses.
    ap_hook_pre_connection(attach_connection, nullptr, nullptr, APR_HOOK_MIDDLE);
    // Before HTTP reads the connection: complete the handshake (SNI chooses the host, ALPN the
    // protocol). mod_http2 orders its own hook after "mod_tls.c".
    // On the event MPM the handshake waits for the client in the MPM, not on a thread; the
    // handshake timeout (mod_reqtimeout's handshake stage, else Timeout) still bounds it: read
    // after the configuration, for every host.
    ap_hook_process_connection(run_handshake, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(read_handshake_limits, nullptr, nullptr, APR_HOOK_MIDDLE);
    // Each request, once its host is known: 421 / 403 where the handshake's host may not serve it.
    ap_hook_post_read_request(check_request_host, nullptr, nullptr, APR_HOOK_MIDDLE);
    // Anyone asking "is this connection TLS?" (mod_rewrite %{HTTPS}, mod_http2, ...).
    ap_hook_ssl_conn_is_ssl(is_tls_connection, nullptr, nullptr, APR_HOOK_MIDDLE);
    // SSL_* variables for ap_expr, mod_rewrite, mod_headers, logs, mod_http2's TLS checks.
    ap_hook_ssl_var_lookup(lookup_ssl_var, nullptr, nullptr, APR_HOOK_MIDDLE);
    // A new TLS connection, after attach_connection: the cache of its parsed certificates.
    ap_hook_pre_connection(attach_vars_cache, nullptr, nullptr, APR_HOOK_LAST);
    // Each request, before its handler: SSL_* variables into the CGI/SSI environment (HTTPS,
    // SSL_TLS_SNI, SSL_PROTOCOL, SSL_CIPHER always; more where TLSOptions enables them).
    ap_hook_fixups(export_ssl_vars, nullptr, nullptr, APR_HOOK_MIDDLE);
    // TLSUserName: the request's user from a certificate variable, before authorization asks
    // for it (check_authn, first) and, for requests without authentication, for the access log.
    ap_hook_check_authn(user_from_certificate_authn, nullptr, nullptr, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(user_from_certificate_fixup, nullptr, nullptr, APR_HOOK_MIDDLE);
    // The same variables in ap_expr (%{SSL:NAME}) and log formats (%{NAME}x). Ours go through
    // ap_ssl_var_lookup and so serve mod_ssl's connections too: run before / register after it.
    static const char *const kModSsl[] = {"mod_ssl.c", nullptr};
    ap_hook_expr_lookup(lookup_expr_function, nullptr, kModSsl, APR_HOOK_MIDDLE);
    ap_hook_pre_config(register_log_format, kModSsl, nullptr, APR_HOOK_MIDDLE);
    // URLs the server builds for a request on a TLS connection.
    ap_hook_http_scheme(scheme_of, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_default_port(default_port_of, nullptr, nullptr, APR_HOOK_MIDDLE);
    // TLS to mod_proxy's backends: client configs built at startup; mod_proxy binds each https/wss
    // backend connection (we take it where TLSProxyEngine is on, before mod_ssl is asked), then
    // runs pre_connection on it, where the client-side TLS filters go on.
    ap_hook_post_config(compile_backend_configs, nullptr, nullptr, APR_HOOK_MIDDLE);
    static const char *const kModSslFirst[] = {"mod_ssl.c", nullptr};
    ap_hook_ssl_bind_outgoing(bind_outgoing, nullptr, kModSslFirst, APR_HOOK_MIDDLE);
    ap_hook_pre_connection(attach_backend, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_ssl_conn_is_ssl(is_backend_tls, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_ssl_var_lookup(lookup_backend_var, nullptr, nullptr, APR_HOOK_MIDDLE);
    TlsStream::register_filters();
}

}  // namespace

// The one exported symbol (everything else is built with hidden visibility; see exports.map).
extern "C" {
// STANDARD20_MODULE_STUFF spelled out, to name the module "mod_tls.c" as Apache's mod_tls was
// named: other modules (mod_http2, mod_md) order their hooks relative to that name.
__attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA tls_module = {
    MODULE_MAGIC_NUMBER_MAJOR,
    MODULE_MAGIC_NUMBER_MINOR,
    -1,
    "mod_tls.c",
    nullptr,
    nullptr,
    MODULE_MAGIC_COOKIE,
    nullptr,
    mod_tls::create_dir_config,      // per-directory config creator (TLSOptions)
    mod_tls::merge_dir_config,       // per-directory config merger
    mod_tls::create_server_config,   // per-server config creator
    mod_tls::merge_server_config,    // per-server config merger
    mod_tls::kDirectives,            // directives
    register_hooks,                  // hook registration
    // A vhost without mod_tls directives would otherwise share the main server's config record,
    // and with it the per-host state post_config stores there (ServerConfig::compiled).
    AP_MODULE_FLAG_ALWAYS_MERGE,
};
}
