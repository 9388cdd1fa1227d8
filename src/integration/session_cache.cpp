#include "integration/session_cache.h"

#include <apr_global_mutex.h>
#include <ap_provider.h>
#include <util_mutex.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apache/pool_owned.h"
#include "config/server_config.h"
#include "config/startup_warnings.h"
#include "integration/outage_gate.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

constexpr const char *kMutexType = "tls-session-cache";
// Names the cache's entries (memcache/redis key prefix; shmcb's file name): max 16 characters.
constexpr const char *kCacheName = "mod_tls-session";
// While the cache stays down, repeat the error line at most this often (per process).
constexpr int64_t kOutageRepeatSecs = 60;

std::string apr_error_text(apr_status_t rv) {
    char buf[256];
    return apr_strerror(rv, buf, sizeof buf);
}

// A pool for one cache call: providers allocate from it (memcache's reply buffer). Unmanaged,
// so calls from many threads do not contend on a shared parent.
class CallPool {
public:
    CallPool() {
        if (apr_pool_create_unmanaged_ex(&pool_, nullptr, nullptr) != APR_SUCCESS) pool_ = nullptr;
    }
    ~CallPool() {
        if (pool_ != nullptr) apr_pool_destroy(pool_);
    }
    CallPool(const CallPool &) = delete;
    CallPool &operator=(const CallPool &) = delete;
    apr_pool_t *get() const { return pool_; }

private:
    apr_pool_t *pool_ = nullptr;
};

// Holds the cache's global mutex (for providers that are not safe across processes) while alive.
class CacheLock {
public:
    explicit CacheLock(apr_global_mutex_t *m) : mutex_(m) {
        locked_ = mutex_ == nullptr || apr_global_mutex_lock(mutex_) == APR_SUCCESS;
    }
    ~CacheLock() {
        if (mutex_ != nullptr && locked_) apr_global_mutex_unlock(mutex_);
    }
    CacheLock(const CacheLock &) = delete;
    CacheLock &operator=(const CacheLock &) = delete;
    bool ok() const { return locked_; }

private:
    apr_global_mutex_t *mutex_;
    bool locked_ = false;
};

// One call to the cache provider, with its own copies of the bytes: a call that outlives its
// deadline (below) finishes on its own thread after the handshake has moved on.
struct CacheCall {
    bool store = false;    // store `data` under `key`; else retrieve into `data`
    bool remove = false;   // after a successful retrieve (single-use sessions)
    std::vector<unsigned char> key;
    std::vector<unsigned char> data;
    unsigned len = 0;      // retrieve: bytes found
};

// The session store every host's rustls config uses: one socache instance for the whole server
// (all hosts, all worker processes). Lives in the configuration pool.
//
// memcached and redis are other machines: apr's memcache client has no read timeout and a
// stalled (not dead) server would hold handshakes forever. Calls to those providers therefore run
// on a helper thread and are given up after kCallDeadline; then the cache is skipped for
// kSkipAfterTimeout (handshakes are full, without waiting) before it is tried again.
class SocacheStore final : public tls::SessionStore {
public:
    static constexpr auto kCallDeadline = std::chrono::milliseconds(1000);
    static constexpr apr_interval_time_t kSkipAfterTimeout = apr_time_from_sec(10);

    SocacheStore(const ap_socache_provider_t *provider, ap_socache_instance_t *instance,
                 std::string spec, server_rec *main_server, apr_pool_t *pconf)
        : provider_(provider), instance_(instance), spec_(std::move(spec)), main_(main_server),
          remote_(std::string_view(provider->name) == "memcache" ||
                  std::string_view(provider->name) == "redis") {
        // Providers log every failed call (memcache: at crit, per connection). They get a copy of
        // the main server that logs only emergencies; this store reports outages itself, once.
        quiet_ = make_pool_owned<server_rec>(pconf, *main_server);
        quiet_->log.level = APLOG_EMERG;
        quiet_->log.module_levels = nullptr;
    }

    ~SocacheStore() override { provider_->destroy(instance_, main_); }
    SocacheStore(const SocacheStore &) = delete;
    SocacheStore &operator=(const SocacheStore &) = delete;

    apr_global_mutex_t **mutex_slot() { return &mutex_; }
    const std::string &spec() const { return spec_; }

    bool put(std::span<const uint8_t> key, std::span<const uint8_t> value) noexcept override {
        try {
            auto call = std::make_shared<CacheCall>();
            call->store = true;
            call->key.assign(key.begin(), key.end());
            call->data.assign(value.begin(), value.end());
            return report(run(call), "storing a session") == APR_SUCCESS;
        } catch (...) {
            return false;
        }
    }

    std::optional<size_t> get(std::span<const uint8_t> key, bool remove,
                              std::span<uint8_t> out) noexcept override {
        try {
            auto call = std::make_shared<CacheCall>();
            call->remove = remove;
            call->key.assign(key.begin(), key.end());
            call->data.resize(out.size());
            apr_status_t rv = run(call);
            // Not found says nothing about the cache's health: a provider whose server is down
            // (memcache, redis) answers lookups with it too.
            if (rv == APR_NOTFOUND) return std::nullopt;
            if (report(rv, "looking up a session") != APR_SUCCESS) return std::nullopt;
            if (call->len > out.size() || call->len > call->data.size()) return std::nullopt;
            std::copy_n(call->data.begin(), call->len, out.begin());
            return call->len;
        } catch (...) {
            return std::nullopt;
        }
    }

private:
    // The provider calls themselves (under the mutex for providers that need one).
    apr_status_t perform(CacheCall &c) noexcept {
        CallPool pool;
        if (pool.get() == nullptr) return APR_ENOMEM;
        CacheLock lock(mutex_);
        if (!lock.ok()) return APR_EGENERAL;
        const auto idlen = static_cast<unsigned>(c.key.size());
        if (c.store) {
            apr_time_t expiry = apr_time_now() + apr_time_from_sec(kSessionLifetimeSecs);
            return provider_->store(instance_, quiet_, c.key.data(), idlen, expiry, c.data.data(),
                                    static_cast<unsigned>(c.data.size()), pool.get());
        }
        c.len = static_cast<unsigned>(c.data.size());
        apr_status_t rv = provider_->retrieve(instance_, quiet_, c.key.data(), idlen,
                                              c.data.data(), &c.len, pool.get());
        if (rv == APR_SUCCESS && c.remove)
            provider_->remove(instance_, quiet_, c.key.data(), idlen, pool.get());
        return rv;
    }

    // perform(), bounded in time for remote providers. APR_TIMEUP: given up (or skipped).
    apr_status_t run(const std::shared_ptr<CacheCall> &call) {
        if (!remote_) return perform(*call);
        if (apr_time_now() < skip_until_.load()) return APR_TIMEUP;
        struct Pending {
            std::mutex m;
            std::condition_variable cv;
            bool done = false;
            apr_status_t rv = APR_EGENERAL;
        };
        auto pending = std::make_shared<Pending>();
        std::thread([this, call, pending] {
            apr_status_t rv = perform(*call);
            std::lock_guard<std::mutex> g(pending->m);
            pending->rv = rv;
            pending->done = true;
            pending->cv.notify_all();
        }).detach();
        std::unique_lock<std::mutex> lk(pending->m);
        if (pending->cv.wait_for(lk, kCallDeadline, [&] { return pending->done; }))
            return pending->rv;
        skip_until_.store(apr_time_now() + kSkipAfterTimeout);
        return APR_TIMEUP;
    }

    // Passes the outcome of one call to the outage gate; returns rv.
    apr_status_t report(apr_status_t rv, const char *doing) noexcept {
        if (rv == APR_SUCCESS) {
            if (gate_.success() == OutageGate::Report::Recovered) {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, main_,
                             "TLSSessionCache %s: the session cache works again", spec_.c_str());
            }
            return rv;
        }
        const char *why = rv == APR_TIMEUP ? " (no answer in time; not asked again for a while)"
                                           : "";
        switch (gate_.failure(apr_time_sec(apr_time_now()))) {
            case OutageGate::Report::Down:
                ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_,
                             "TLSSessionCache %s: the session cache failed while %s%s; "
                             "handshakes go on without resumption until it works again (logged "
                             "once per outage)", spec_.c_str(), doing, why);
                break;
            case OutageGate::Report::StillDown:
                ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_,
                             "TLSSessionCache %s: the session cache is still failing (%s%s)",
                             spec_.c_str(), doing, why);
                break;
            default:
                break;
        }
        return rv;
    }

    const ap_socache_provider_t *provider_;
    ap_socache_instance_t *instance_;
    std::string spec_;
    server_rec *main_;
    const bool remote_;
    server_rec *quiet_ = nullptr;
    apr_global_mutex_t *mutex_ = nullptr;
    OutageGate gate_{kOutageRepeatSecs};
    std::atomic<apr_time_t> skip_until_{0};
};

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
    const char *provider_arg =
        colon == std::string_view::npos ? nullptr : apr_pstrdup(cmd->pool, arg + colon + 1);
    setting->provider = lookup_provider(name.c_str());
    if (setting->provider == nullptr) {
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
    if (const char *err = setting->provider->create(&setting->instance, provider_arg,
                                                    cmd->temp_pool, cmd->pool)) {
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
    const ap_socache_provider_t *provider = nullptr;
    ap_socache_instance_t *instance = nullptr;
    std::string spec;
    std::string where;
    if (setting != nullptr) {
        provider = setting->provider;
        instance = setting->instance;
        spec = setting->spec;
        where = " (at " + setting->site.describe() + ")";
    } else {
        spec = "default";
        provider = lookup_provider("shmcb");
        if (provider == nullptr) {
            defer_startup_warning(
                "TLSSessionCache: mod_socache_shmcb is not loaded, so TLS sessions are cached in "
                "each worker process only and a reconnect resumes only when it reaches the same "
                "process; load it (LoadModule socache_shmcb_module "
                "modules/mod_socache_shmcb.so) or set TLSSessionCache explicitly");
            return OK;
        }
        if (const char *err = provider->create(&instance, nullptr, ptemp, pconf)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "TLSSessionCache: cannot create the default shmcb cache: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    auto *store = make_pool_owned<SocacheStore>(pconf, provider, instance, spec, s, pconf);
    if (provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
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
    apr_status_t rv = provider->init(instance, kCacheName, &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "TLSSessionCache %s%s: cannot initialize the session cache (%s); fix the "
                     "cache specification, or write 'TLSSessionCache none'",
                     spec.c_str(), where.c_str(), apr_error_text(rv).c_str());
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
