#include "integration/session_cache.h"

#include <apr_global_mutex.h>
#include <ap_provider.h>
#include <util_mutex.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "apache/pool_owned.h"
#include "config/server_config.h"
#include "config/startup_warnings.h"
#include "integration/socache_store.h"
#include "apache/apr_error.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

constexpr const char *kMutexType = "tls-session-cache";
// Names the cache's entries (memcache/redis key prefix; shmcb's file name): max 16 characters.
constexpr const char *kCacheName = "mod_tls-session";

// The store of the configuration in force, and how resumption is set up.
SocacheStore *g_store = nullptr;
bool g_no_cache = false;

apr_status_t forget_store(void *) {
    g_store = nullptr;
    g_no_cache = false;
    return APR_SUCCESS;
}

const ap_socache_provider_t *lookup_provider(const char *name) {
    return static_cast<const ap_socache_provider_t *>(
        ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION));
}

std::string known_providers(apr_pool_t *pool) {
    apr_array_header_t *names =
        ap_list_provider_names(pool, AP_SOCACHE_PROVIDER_GROUP, AP_SOCACHE_PROVIDER_VERSION);
    std::string out;
    if (names != nullptr) {
        std::span entries(reinterpret_cast<const ap_list_provider_names_t *>(names->elts),
                          static_cast<size_t>(names->nelts));
        for (const ap_list_provider_names_t &e : entries) {
            if (!out.empty()) out += ", ";
            out += e.provider_name;
        }
    }
    return out;
}

}  // namespace

const char *set_session_cache(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
    auto setting = std::make_shared<SessionCacheSetting>();
    setting->spec = arg;
    setting->site = site_of(cmd);
    std::string_view spec(arg);
    if (spec == "default") {
        server_config(cmd->server)->session_cache = nullptr;
        return nullptr;
    }
    if (spec == "none") {
        setting->none = true;
        server_config(cmd->server)->session_cache = std::move(setting);
        return nullptr;
    }
    size_t colon = spec.find(':');
    std::string name(spec.substr(0, colon));
    const char *provider_arg = colon == std::string_view::npos ? nullptr : arg + colon + 1;
    const ap_socache_provider_t *provider = lookup_provider(name.c_str());
    if (provider == nullptr) {
        std::string known = known_providers(cmd->temp_pool);
        return apr_pstrcat(
            cmd->pool, cmd->cmd->name, ": '", name.c_str(),
            "' is not a loaded session cache provider; ",
            known.empty() ? "no socache provider is loaded"
                          : ("loaded providers: " + known).c_str(),
            ". Load one (e.g. LoadModule socache_shmcb_module modules/mod_socache_shmcb.so) "
            "before this line, or write 'none'",
            nullptr);
    }
    setting->cache = std::make_shared<SocacheInstance>(provider);
    if (const char *err = setting->cache->create(provider_arg, cmd->temp_pool)) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": '", arg, "': ", err, nullptr);
    }
    server_config(cmd->server)->session_cache = std::move(setting);
    return nullptr;
}

int register_session_cache_mutex(apr_pool_t *pconf, apr_pool_t *, apr_pool_t *) {
    return ap_mutex_register(pconf, kMutexType, nullptr, APR_LOCK_DEFAULT, 0);
}

int init_session_cache(apr_pool_t *pconf, apr_pool_t *, apr_pool_t *ptemp, server_rec *s) {
    g_store = nullptr;
    g_no_cache = false;
    apr_pool_cleanup_register(pconf, nullptr, forget_store, apr_pool_cleanup_null);
    const ServerConfig *conf = server_config(s);
    if (conf->engines.empty()) return OK;  // mod_tls serves nothing: no cache to set up

    const SessionCacheSetting *setting = conf->session_cache.get();
    if (setting != nullptr && setting->none) {
        g_no_cache = true;
        return OK;
    }
    std::shared_ptr<SocacheInstance> cache;
    std::string spec;
    std::string where;
    if (setting != nullptr) {
        cache = setting->cache;
        spec = setting->spec;
        where = " (at " + setting->site.describe() + ")";
    } else {
        spec = "default";
        const ap_socache_provider_t *provider = lookup_provider("shmcb");
        if (provider == nullptr) {
            defer_startup_warning(
                "TLSSessionCache: mod_socache_shmcb is not loaded, so TLS sessions are cached in "
                "each worker process only and a reconnect resumes only when it reaches the same "
                "process; load it (LoadModule socache_shmcb_module "
                "modules/mod_socache_shmcb.so) or set TLSSessionCache explicitly");
            return OK;
        }
        cache = std::make_shared<SocacheInstance>(provider);
        if (const char *err = cache->create(nullptr, ptemp)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "TLSSessionCache: cannot create the default shmcb cache: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    auto *store = make_pool_owned<SocacheStore>(pconf, cache, spec, kSessionLifetimeSecs, s);
    if (cache->provider().flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        apr_status_t rv =
            ap_global_mutex_create(store->mutex_slot(), nullptr, kMutexType, nullptr, s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         "TLSSessionCache %s%s: cannot create the '%s' mutex; check the Mutex "
                         "directive for it", spec.c_str(), where.c_str(), kMutexType);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    ap_socache_hints hints{};
    hints.avg_id_len = 32;
    hints.avg_obj_size = 512;
    hints.expiry_interval = apr_time_from_sec(30);
    apr_status_t rv = cache->init(kCacheName, hints, s);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "TLSSessionCache %s%s: cannot initialize the session cache (%s); fix the "
                     "cache specification, or write 'TLSSessionCache none'",
                     spec.c_str(), where.c_str(), apr_error(rv).c_str());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    g_store = store;
    return OK;
}

void attach_session_cache(apr_pool_t *pchild, server_rec *s) {
    if (g_store == nullptr || *g_store->mutex_slot() == nullptr) return;
    apr_global_mutex_t **mutex = g_store->mutex_slot();
    apr_status_t rv =
        apr_global_mutex_child_init(mutex, apr_global_mutex_lockfile(*mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "TLSSessionCache %s: cannot attach the '%s' mutex in this process",
                     g_store->spec().c_str(), kMutexType);
    }
}

void apply_resumption_settings(tls::ServerConfigParams &params, const server_rec *main_server) {
    params.session_store = g_store;
    params.no_session_cache = g_no_cache;
    params.ticket_keys = server_config(main_server)->ticket_keys.get();
}

}  // namespace mod_tls
