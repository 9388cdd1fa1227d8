#include "proxy/backend_configs.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <mod_proxy.h>

#include "apache/file_bytes.h"
#include "apache/pool_owned.h"
#include "config/cipher_names.h"
#include "config/dir_config.h"
#include "config/protocol_version.h"
#include "rustls/connection.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

struct Registry {
    std::mutex mutex;
    std::map<std::string, std::unique_ptr<tls::ClientConfig>> configs;  // by settings_key()
    std::string system_ca;  // kSystemCaFile's contents, read at startup
};

Registry *g_registry = nullptr;

apr_status_t forget_registry(void *) {
    g_registry = nullptr;
    return APR_SUCCESS;
}

const std::vector<uint16_t> &ids_or_none(const std::vector<uint16_t> *ids) {
    static const std::vector<uint16_t> kNone;
    return ids != nullptr ? *ids : kNone;
}

// What tells two setting sets apart for building a config.
std::string settings_key(const ProxySettings &ps) {
    std::string key = ps.ca != nullptr ? ps.ca->file : std::string("system:") + kSystemCaFile;
    key += "|v" + std::to_string(ps.min_protocol);
    key += "|p";
    for (uint16_t id : ids_or_none(ps.prefer)) key += std::to_string(id) + ",";
    key += "|s";
    for (uint16_t id : ids_or_none(ps.suppress)) key += std::to_string(id) + ",";
    if (ps.certs != nullptr) {
        for (const ProxyCertificate &c : *ps.certs) key += "|c" + c.files;
    }
    return key;
}

std::unique_ptr<tls::ClientConfig> build(const ProxySettings &ps, const std::string &system_ca,
                                         std::string *error) {
    tls::ClientConfigParams params;
    params.cipher_suites = order_cipher_suites(tls::supported_cipher_suites(),
                                               ids_or_none(ps.prefer), ids_or_none(ps.suppress));
    if (params.cipher_suites.empty()) {
        *error = "TLSProxyCiphersSuppress leaves no cipher suite; suppress fewer suites";
        return nullptr;
    }
    for (uint16_t v : versions_from(ps.min_protocol != 0 ? ps.min_protocol : kTls12)) {
        const bool has_suite =
            std::any_of(params.cipher_suites.begin(), params.cipher_suites.end(),
                        [v](uint16_t id) { return is_tls13_suite(id) == (v == kTls13); });
        if (has_suite) params.versions.push_back(v);
    }
    if (params.versions.empty()) {
        *error = "TLSProxyProtocol and TLSProxyCiphersSuppress leave no protocol version; "
                 "suppress fewer suites or lower TLSProxyProtocol";
        return nullptr;
    }
    params.ca_pem = ps.ca != nullptr ? ps.ca->pem : system_ca;
    if (ps.certs != nullptr) {
        for (const ProxyCertificate &c : *ps.certs) params.keys.push_back(c.key.get());
    }
    auto built = tls::ClientConfig::build(params);
    if (!built) {
        *error = "cannot build the TLS configuration for backends (CA " +
                 (ps.ca != nullptr ? ps.ca->file : std::string(kSystemCaFile)) +
                 "): " + built.error().message();
        return nullptr;
    }
    return std::make_unique<tls::ClientConfig>(std::move(built.value()));
}

// Looks up or builds; the registry's mutex must be held.
const tls::ClientConfig *config_locked(Registry &reg, const ProxySettings &ps,
                                       std::string *error) {
    std::string key = settings_key(ps);
    auto found = reg.configs.find(key);
    if (found != reg.configs.end()) return found->second.get();
    if (ps.ca == nullptr && reg.system_ca.empty()) {
        *error = "TLSProxyCA is not set and the system CA file " + std::string(kSystemCaFile) +
                 " could not be read; install ca-certificates or set TLSProxyCA";
        return nullptr;
    }
    auto built = build(ps, reg.system_ca, error);
    if (!built) return nullptr;
    return reg.configs.emplace(std::move(key), std::move(built)).first->second.get();
}

const DirConfig *tls_dir_config(ap_conf_vector_t *v) {
    return v != nullptr ? static_cast<const DirConfig *>(ap_get_module_config(v, &tls_module))
                        : nullptr;
}

std::string scope_name(server_rec *s, const char *proxy_path) {
    std::string name = s->defn_name ? std::string(s->defn_name) + ":" +
                                          std::to_string(s->defn_line_number)
                                    : std::string("the main server");
    if (s->server_hostname) name = "host " + std::string(s->server_hostname) + " (" + name + ")";
    if (proxy_path) name = "<Proxy " + std::string(proxy_path) + "> in " + name;
    return name;
}

}  // namespace

int compile_backend_configs(apr_pool_t *pconf, apr_pool_t *, apr_pool_t *ptemp,
                            server_rec *main_server) {
    Registry *reg = make_pool_owned<Registry>(pconf);
    apr_pool_cleanup_register(pconf, nullptr, forget_registry, apr_pool_cleanup_null);
    g_registry = reg;
    FileBytes ca = read_file_bytes(ptemp, kSystemCaFile, 16 << 20);
    if (ca.ok) reg->system_ca = std::move(ca.data);

    module *proxy = ap_find_linked_module("mod_proxy.c");
    std::lock_guard<std::mutex> lock(reg->mutex);
    for (server_rec *s = main_server; s != nullptr; s = s->next) {
        const DirConfig *base = tls_dir_config(s->lookup_defaults);
        if (base == nullptr) continue;
        // The scope itself, then each <Proxy> section merged over it.
        std::vector<std::pair<ProxySettings, const char *>> scopes{{base->proxy, nullptr}};
        const auto *psc = proxy ? static_cast<const proxy_server_conf *>(
                                      ap_get_module_config(s->module_config, proxy))
                                : nullptr;
        if (psc != nullptr && psc->sec_proxy != nullptr) {
            auto **sections = reinterpret_cast<ap_conf_vector_t **>(psc->sec_proxy->elts);
            for (int i = 0; i < psc->sec_proxy->nelts; ++i) {
                const DirConfig *sec = tls_dir_config(sections[i]);
                if (sec == nullptr) continue;
                const auto *pdc = static_cast<const proxy_dir_conf *>(
                    ap_get_module_config(sections[i], proxy));
                scopes.push_back({merge_proxy_settings(base->proxy, sec->proxy),
                                  pdc != nullptr ? pdc->p : nullptr});
            }
        }
        for (const auto &[ps, path] : scopes) {
            if (!ps.engine_on()) continue;
            std::string error;
            if (config_locked(*reg, ps, &error) == nullptr) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, main_server,
                             "TLSProxyEngine on in %s: %s", scope_name(s, path).c_str(),
                             error.c_str());
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    if (!reg->configs.empty()) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, main_server,
                     "TLS to backends: %" APR_SIZE_T_FMT " client configuration(s) built", reg->configs.size());
    }
    return OK;
}

const tls::ClientConfig *backend_config_for(const ProxySettings &settings, std::string *error) {
    Registry *reg = g_registry;
    if (reg == nullptr) {
        *error = "the backend TLS configuration is not compiled";
        return nullptr;
    }
    std::lock_guard<std::mutex> lock(reg->mutex);
    return config_locked(*reg, settings, error);
}

}  // namespace mod_tls
