#include "integration/socache_store.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "apache/pool_owned.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

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

}  // namespace

// One call to the cache provider, with its own copies of the bytes: a call that outlives its
// deadline finishes on its own thread after the handshake has moved on.
struct CacheCall {
    bool store = false;    // store `data` under `key`; else retrieve into `data`
    bool remove = false;   // after a successful retrieve (single-use sessions)
    std::vector<unsigned char> key;
    std::vector<unsigned char> data;
    unsigned len = 0;      // retrieve: bytes found
};

SocacheStore::SocacheStore(const ap_socache_provider_t *provider, ap_socache_instance_t *instance,
                           std::string spec, unsigned lifetime_secs, server_rec *main_server,
                           apr_pool_t *pconf)
    : provider_(provider), instance_(instance), spec_(std::move(spec)),
      lifetime_secs_(lifetime_secs), main_(main_server),
      remote_(std::string_view(provider->name) == "memcache" ||
              std::string_view(provider->name) == "redis") {
    // Providers log every failed call (memcache: at crit, per connection). They get a copy of the
    // main server that logs only emergencies; this store reports outages itself, once.
    quiet_ = make_pool_owned<server_rec>(pconf, *main_server);
    quiet_->log.level = APLOG_EMERG;
    quiet_->log.module_levels = nullptr;
}

SocacheStore::~SocacheStore() { provider_->destroy(instance_, main_); }

bool SocacheStore::put(std::span<const uint8_t> key, std::span<const uint8_t> value) noexcept {
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

std::optional<size_t> SocacheStore::get(std::span<const uint8_t> key, bool remove,
                                        std::span<uint8_t> out) noexcept {
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

// The provider calls themselves (under the mutex for providers that need one).
apr_status_t SocacheStore::perform(CacheCall &c) noexcept {
    CallPool pool;
    if (pool.get() == nullptr) return APR_ENOMEM;
    CacheLock lock(mutex_);
    if (!lock.ok()) return APR_EGENERAL;
    const auto idlen = static_cast<unsigned>(c.key.size());
    if (c.store) {
        apr_time_t expiry = apr_time_now() + apr_time_from_sec(lifetime_secs_);
        return provider_->store(instance_, quiet_, c.key.data(), idlen, expiry, c.data.data(),
                                static_cast<unsigned>(c.data.size()), pool.get());
    }
    c.len = static_cast<unsigned>(c.data.size());
    apr_status_t rv = provider_->retrieve(instance_, quiet_, c.key.data(), idlen, c.data.data(),
                                          &c.len, pool.get());
    if (rv == APR_SUCCESS && c.remove)
        provider_->remove(instance_, quiet_, c.key.data(), idlen, pool.get());
    return rv;
}

// perform(), bounded in time for remote providers. APR_TIMEUP: given up (or skipped).
apr_status_t SocacheStore::run(const std::shared_ptr<CacheCall> &call) {
    if (!remote_) return perform(*call);
    if (apr_time_now() < skip_until_.load()) return APR_TIMEUP;
    struct Pending {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        apr_status_t rv = APR_EGENERAL;
    };
    auto pending = std::make_shared<Pending>();
    // The thread owns copies of everything it touches (call, pending) except this store, which
    // lives as long as the configuration.
    std::thread([this, call, pending] {
        apr_status_t rv = perform(*call);
        std::lock_guard<std::mutex> g(pending->m);
        pending->rv = rv;
        pending->done = true;
        pending->cv.notify_all();
    }).detach();
    std::unique_lock<std::mutex> lk(pending->m);
    if (pending->cv.wait_for(lk, kCallDeadline, [&] { return pending->done; })) return pending->rv;
    skip_until_.store(apr_time_now() + kSkipAfterTimeout);
    return APR_TIMEUP;
}

// Passes the outcome of one call to the outage gate; logs what it says; returns rv.
apr_status_t SocacheStore::report(apr_status_t rv, const char *doing) noexcept {
    if (rv == APR_SUCCESS) {
        if (gate_.success() == OutageGate::Report::Recovered) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, main_,
                         "TLSSessionCache %s: the session cache works again", spec_.c_str());
        }
        return rv;
    }
    const char *why =
        rv == APR_TIMEUP ? " (no answer in time; not asked again for a while)" : "";
    switch (gate_.failure(apr_time_sec(apr_time_now()))) {
        case OutageGate::Report::Down:
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_,
                         "TLSSessionCache %s: the session cache failed while %s%s; handshakes go "
                         "on without resumption until it works again (logged once per outage)",
                         spec_.c_str(), doing, why);
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

}  // namespace mod_tls
