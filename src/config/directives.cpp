#include "config/directives.h"

#include <strings.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apache/file_bytes.h"
#include "config/cipher_directive.h"
#include "config/cipher_names.h"
#include "config/client_auth.h"
#include "config/dir_config.h"
#include "config/group_names.h"
#include "config/protocol_version.h"
#include "rustls/connection.h"
#include "config/server_config.h"
#include "config/startup_warnings.h"
#include "proxy/proxy_directives.h"
#include "integration/session_cache.h"
#include "integration/ticket_key_file.h"
#include "config/directive_error.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

// Apache declares directive handlers as a K&R-style function pointer in C++; this is the one
// place that converts our typed handlers to it (through void(*)(), the generic function type).
template <class Handler>
cmd_func handler(Handler h) {
    return reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(h));
}


// TLSEngine [address:]port — main server only, repeatable.
const char *set_engine(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
    EngineAddress engine;
    if (const char *err = parse_engine_address(cmd->pool, arg, &engine)) return directive_error(cmd, err);
    engine.site = site_of(cmd);
    server_config(cmd->server)->engines.push_back(std::move(engine));
    return nullptr;
}

// TLSCertificate cert_file [key_file] — loaded and checked now, so a mistake is reported with
// Apache's own "Syntax error on line N of FILE" pointing at this directive.
const char *add_certificate(cmd_parms *cmd, void *, const char *cert_arg, const char *key_arg) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    CertificateEntry entry;
    entry.cert_path = ap_server_root_relative(cmd->pool, cert_arg);
    entry.key_path = key_arg ? ap_server_root_relative(cmd->pool, key_arg) : entry.cert_path;
    entry.site = site_of(cmd);

    FileBytes cert = read_file_bytes(cmd->temp_pool, entry.cert_path.c_str());
    if (!cert.ok) return directive_error(cmd, cert.error + "; check the certificate file's path");
    FileBytes key = key_arg ? read_file_bytes(cmd->temp_pool, entry.key_path.c_str()) : cert;
    if (!key.ok) return directive_error(cmd, key.error + "; check the key file's path");

    auto loaded = tls::CertifiedKey::from_pem(std::span<const char>(cert.data),
                                              std::span<const char>(key.data));
    if (!loaded) {
        std::string what = "'" + entry.cert_path + "'";
        if (key_arg) what += " with key '" + entry.key_path + "'";
        return directive_error(cmd, what + ": " + loaded.error().message());
    }
    entry.key = std::make_shared<const tls::CertifiedKey>(std::move(loaded.value()));
    server_config(cmd->server)->certificates.push_back(std::move(entry));
    return nullptr;
}

// TLSProtocol version+ — the minimum TLS version.
const char *set_protocol(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    ProtocolMinimum parsed = parse_protocol_minimum(arg);
    if (!parsed.ok) return directive_error(cmd, parsed.error);
    if (!parsed.warning.empty())
        defer_startup_warning("TLSProtocol at " + site_of(cmd).describe() + ": " + parsed.warning);
    server_config(cmd->server)->min_protocol = parsed.version;
    return nullptr;
}

// TLSCiphersPrefer / TLSCiphersSuppress name... — names as arguments and/or ':'-separated. A
// later occurrence replaces an earlier one; `default` (Prefer) / `none` (Suppress) clears.
const char *set_ciphers(cmd_parms *cmd, std::optional<std::vector<uint16_t>> &target,
                        std::string_view clear_word, bool warn_unsupported, int argc,
                        char *const argv[]) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    std::vector<uint16_t> ids;
    if (const char *err = parse_cipher_arguments(cmd, clear_word, warn_unsupported, argc, argv, ids))
        return err;
    target = std::move(ids);
    return nullptr;
}

const char *set_ciphers_prefer(cmd_parms *cmd, void *, int argc, char *const argv[]) {
    return set_ciphers(cmd, server_config(cmd->server)->ciphers_prefer, "default", true, argc,
                       argv);
}

const char *set_ciphers_suppress(cmd_parms *cmd, void *, int argc, char *const argv[]) {
    return set_ciphers(cmd, server_config(cmd->server)->ciphers_suppress, "none", false, argc,
                       argv);
}

// TLSGroups name... — the key exchange groups in preference order (IANA names, any case).
const char *set_groups(cmd_parms *cmd, void *, int argc, char *const argv[]) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    std::vector<std::string_view> args(argv, argv + argc);
    std::vector<uint16_t> ids;
    if (std::string err = parse_kx_groups(args, ids); !err.empty()) return directive_error(cmd, err);
    server_config(cmd->server)->kx_groups = std::move(ids);
    return nullptr;
}

// on|off in any letter case; the error names the word that was written.
const char *set_flag(cmd_parms *cmd, std::optional<bool> &target, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    if (strcasecmp(arg, "on") == 0) {
        target = true;
    } else if (strcasecmp(arg, "off") == 0) {
        target = false;
    } else {
        return directive_error(cmd, std::string("'") + arg + "' is not a flag value; write on or off");
    }
    return nullptr;
}

const char *set_honor_client_order(cmd_parms *cmd, void *, const char *arg) {
    return set_flag(cmd, server_config(cmd->server)->honor_client_order, arg);
}

const char *set_strict_sni(cmd_parms *cmd, void *, const char *arg) {
    return set_flag(cmd, server_config(cmd->server)->strict_sni, arg);
}

// TLSOptions [+|-]option... — server, vhost and directory scopes (and .htaccess with
// AllowOverride Options); inner scopes override option by option (config/tls_options.h).
const char *set_options(cmd_parms *cmd, void *dir, int argc, char *const argv[]) {
    std::vector<std::string_view> args(argv, argv + argc);
    std::string err = apply_tls_options(static_cast<DirConfig *>(dir)->options, args);
    if (!err.empty()) return directive_error(cmd, err);
    return nullptr;
}

}  // namespace

const command_rec kDirectives[] = {
    {"TLSEngine", handler(set_engine), nullptr, RSRC_CONF, ITERATE,
     "TLSEngine [address:]port - serve TLS on this listening address (repeatable)"},
    {"TLSCertificate", handler(add_certificate), nullptr, RSRC_CONF, TAKE12,
     "TLSCertificate cert_file [key_file] - PEM certificate chain and private key"},
    {"TLSProtocol", handler(set_protocol), nullptr, RSRC_CONF, TAKE1,
     "TLSProtocol version+ - minimum TLS version: default, TLSv1.2+, TLSv1.3+"},
    {"TLSCiphersPrefer", handler(set_ciphers_prefer), nullptr, RSRC_CONF, TAKE_ARGV,
     "TLSCiphersPrefer name... - cipher suites to prefer, in order (or 'default')"},
    {"TLSCiphersSuppress", handler(set_ciphers_suppress), nullptr, RSRC_CONF, TAKE_ARGV,
     "TLSCiphersSuppress name... - cipher suites never to use (or 'none')"},
    {"TLSGroups", handler(set_groups), nullptr, RSRC_CONF, TAKE_ARGV,
     "TLSGroups name... - key exchange groups in preference order (X25519MLKEM768 x25519 "
     "secp256r1 secp384r1)"},
    {"TLSHonorClientOrder", handler(set_honor_client_order), nullptr, RSRC_CONF, TAKE1,
     "TLSHonorClientOrder on|off - whether the client's cipher order wins (default on)"},
    {"TLSStrictSNI", handler(set_strict_sni), nullptr, RSRC_CONF, TAKE1,
     "TLSStrictSNI on|off - refuse unknown SNI names and requests without SNI where several "
     "hosts share the address (default on)"},
    {"TLSOptions", handler(set_options), nullptr, OR_OPTIONS, TAKE_ARGV,
     "TLSOptions [+|-]option... - StdEnvVars, ExportCertData, Defaults: the SSL_* variables in "
     "the CGI/SSI environment"},
    // TLS to mod_proxy's backends (proxy/proxy_directives.cpp).
    {"TLSProxyEngine", handler(set_proxy_engine), nullptr, kProxyDirectiveContext, TAKE1,
     "TLSProxyEngine on|off - mod_tls does the TLS of mod_proxy's https:// and wss:// backends"},
    {"TLSProxyCA", handler(set_proxy_ca), nullptr, kProxyDirectiveContext, TAKE1,
     "TLSProxyCA file - PEM CA certificates that backends' certificates must chain to "
     "(default: the system store)"},
    {"TLSProxyProtocol", handler(set_proxy_protocol), nullptr, kProxyDirectiveContext, TAKE1,
     "TLSProxyProtocol version+ - minimum TLS version to backends"},
    {"TLSProxyCiphersPrefer", handler(set_proxy_ciphers_prefer), nullptr, kProxyDirectiveContext,
     TAKE_ARGV, "TLSProxyCiphersPrefer name... - cipher suites to prefer with backends"},
    {"TLSProxyCiphersSuppress", handler(set_proxy_ciphers_suppress), nullptr,
     kProxyDirectiveContext, TAKE_ARGV,
     "TLSProxyCiphersSuppress name... - cipher suites never to use with backends"},
    {"TLSProxyMachineCertificate", handler(add_proxy_machine_certificate), nullptr,
     kProxyDirectiveContext, TAKE12,
     "TLSProxyMachineCertificate cert_file [key_file] - client certificate for backends "
     "(repeatable)"},
    {"TLSClientCA", handler(set_client_ca), nullptr, RSRC_CONF, TAKE1,
     "TLSClientCA file - PEM CA certificates that client certificates must chain to"},
    {"TLSClientCertificate", handler(set_client_certificate), nullptr, RSRC_CONF, TAKE1,
     "TLSClientCertificate required|optional|none - ask clients for a certificate (default none)"},
    {"TLSUserName", handler(set_user_name), nullptr, RSRC_CONF, TAKE1,
     "TLSUserName variable - the SSL_* variable that becomes the request's user, e.g. "
     "SSL_CLIENT_S_DN_CN"},
    {"TLSClientCRL", handler(add_client_crl), nullptr, RSRC_CONF, TAKE1,
     "TLSClientCRL file - PEM or DER CRLs of TLSClientCA's issuers (repeatable)"},
    {"TLSSessionCache", handler(set_session_cache), nullptr, RSRC_CONF, TAKE1,
     "TLSSessionCache none|default|shmcb:path(bytes)|memcache:host:port|redis:host:port - "
     "where TLS sessions are kept for resumption (default: shmcb, shared by all processes)"},
    {"TLSSessionTicketKeys", handler(set_session_ticket_keys), nullptr, RSRC_CONF, TAKE1,
     "TLSSessionTicketKeys file - keys for session tickets shared by every server with the same "
     "file (one base64 32-byte key per line; the first encrypts)"},
    {nullptr, nullptr, nullptr, 0, RAW_ARGS, nullptr},
};

}  // namespace mod_tls
