#include "proxy/proxy_directives.h"

#include <strings.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apache/file_bytes.h"
#include "apache/pool_owned.h"
#include "config/cipher_directive.h"
#include "config/cipher_names.h"
#include "config/dir_config.h"
#include "config/protocol_version.h"
#include "config/server_config.h"
#include "config/startup_warnings.h"
#include "rustls/client_config.h"
#include "rustls/connection.h"
#include "config/directive_error.h"

namespace mod_tls {

namespace {


ProxySettings &settings(void *dir) { return static_cast<DirConfig *>(dir)->proxy; }

// Values the settings point to live as long as the configuration pool.
template <class T>
const T *keep(cmd_parms *cmd, T value) {
    return make_pool_owned<T>(cmd->pool, std::move(value));
}

const char *set_ciphers(cmd_parms *cmd, const std::vector<uint16_t> *&target,
                        std::string_view clear_word, bool warn_unsupported, int argc,
                        char *const argv[]) {
    std::vector<uint16_t> ids;
    if (const char *err = parse_cipher_arguments(cmd, clear_word, warn_unsupported, argc, argv, ids))
        return err;
    target = keep(cmd, std::move(ids));
    return nullptr;
}

}  // namespace

// TLSProxyEngine on|off
const char *set_proxy_engine(cmd_parms *cmd, void *dir, const char *arg) {
    if (strcasecmp(arg, "on") == 0) {
        settings(dir).engine = 1;
    } else if (strcasecmp(arg, "off") == 0) {
        settings(dir).engine = 0;
    } else {
        return directive_error(cmd, std::string("'") + arg + "' is not a flag value; write on or off");
    }
    return nullptr;
}

// TLSProxyCA file — read and checked now (as root), kept in memory for the workers.
const char *set_proxy_ca(cmd_parms *cmd, void *dir, const char *arg) {
    ProxyCa ca;
    ca.file = ap_server_root_relative(cmd->pool, arg);
    FileBytes pem = read_file_bytes(cmd->temp_pool, ca.file.c_str(), 16 << 20);
    if (!pem.ok) return directive_error(cmd, pem.error + "; check the CA file's path");
    tls::ClientConfigParams probe;
    probe.ca_pem = pem.data;
    auto built = tls::ClientConfig::build(probe);
    if (!built) {
        return directive_error(cmd, "'" + ca.file + "': " + built.error().message() +
                              "; give a PEM file of CA certificates");
    }
    ca.pem = std::move(pem.data);
    settings(dir).ca = keep(cmd, std::move(ca));
    return nullptr;
}

// TLSProxyProtocol version+ — as TLSProtocol.
const char *set_proxy_protocol(cmd_parms *cmd, void *dir, const char *arg) {
    ProtocolMinimum parsed = parse_protocol_minimum(arg);
    if (!parsed.ok) return directive_error(cmd, parsed.error);
    if (!parsed.warning.empty()) {
        defer_startup_warning("TLSProxyProtocol at " + site_of(cmd).describe() + ": " +
                              parsed.warning);
    }
    settings(dir).min_protocol = parsed.version;
    return nullptr;
}

const char *set_proxy_ciphers_prefer(cmd_parms *cmd, void *dir, int argc, char *const argv[]) {
    return set_ciphers(cmd, settings(dir).prefer, "default", true, argc, argv);
}

const char *set_proxy_ciphers_suppress(cmd_parms *cmd, void *dir, int argc, char *const argv[]) {
    return set_ciphers(cmd, settings(dir).suppress, "none", false, argc, argv);
}

// TLSProxyMachineCertificate cert_file [key_file] — repeatable within a scope; an inner scope's
// list replaces an outer one's.
const char *add_proxy_machine_certificate(cmd_parms *cmd, void *dir, const char *cert_arg,
                                          const char *key_arg) {
    const char *cert_path = ap_server_root_relative(cmd->pool, cert_arg);
    const char *key_path = key_arg ? ap_server_root_relative(cmd->pool, key_arg) : cert_path;
    FileBytes cert = read_file_bytes(cmd->temp_pool, cert_path);
    if (!cert.ok) return directive_error(cmd, cert.error + "; check the certificate file's path");
    FileBytes key = key_arg ? read_file_bytes(cmd->temp_pool, key_path) : cert;
    if (!key.ok) return directive_error(cmd, key.error + "; check the key file's path");
    auto loaded = tls::CertifiedKey::from_pem(std::span<const char>(cert.data),
                                              std::span<const char>(key.data));
    if (!loaded) {
        std::string what = "'" + std::string(cert_path) + "'";
        if (key_arg) what += " with key '" + std::string(key_path) + "'";
        return directive_error(cmd, what + ": " + loaded.error().message());
    }
    ProxySettings &ps = settings(dir);
    std::vector<ProxyCertificate> certs;
    if (ps.certs != nullptr) certs = *ps.certs;
    certs.push_back({std::string(cert_path) + "|" + key_path,
                     std::make_shared<const tls::CertifiedKey>(std::move(loaded.value()))});
    ps.certs = keep(cmd, std::move(certs));
    return nullptr;
}

}  // namespace mod_tls
