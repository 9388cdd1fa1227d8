#include "integration/socache_store.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

// A pool for cache calls: providers allocate from it (memcache's reply buffer). Unmanaged, so
// calls from many threads do not contend on a shared parent.
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

// Local providers (shmcb) run on the handshake's own thread: one pool per thread, cleared after
// each call. A new pool per call would map and unmap fresh memory every time.
class ThreadCallPool {
public:
    ThreadCallPool() : pool_(pool().get()) {}
    ~ThreadCallPool() {
        if (pool_ != nullptr) apr_pool_clear(pool_);
    }
    ThreadCallPool(const ThreadCallPool &) = delete;
    ThreadCallPool &operator=(const ThreadCallPool &) = delete;
    apr_pool_t *get() const { return pool_; }

private:
    static CallPool &pool() {
        thread_local CallPool per_thread;
        return per_thread;
    }
    apr_pool_t *pool_;
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

// One provider call under the cache's lock (for providers that need one; nullptr: none).
apr_status_t store_in(SocacheInstance &cache, apr_global_mutex_t *mutex,
                      std::span<const uint8_t> key, apr_time_t expiry,
                      std::span<const uint8_t> value, apr_pool_t *pool) noexcept {
    if (pool == nullptr) return APR_ENOMEM;
    CacheLock lock(mutex);
    if (!lock.ok()) return APR_EGENERAL;
    return cache.store(key, expiry, value, pool);
}

// Retrieves into `out` and sets `len`; with `remove`, the entry goes (single-use sessions).
apr_status_t retrieve_from(SocacheInstance &cache, apr_global_mutex_t *mutex,
                           std::span<const uint8_t> key, bool remove, std::span<uint8_t> out,
                           unsigned &len, apr_pool_t *pool) noexcept {
    if (pool == nullptr) return APR_ENOMEM;
    CacheLock lock(mutex);
    if (!lock.ok()) return APR_EGENERAL;
    apr_status_t rv = cache.retrieve(key, out, len, pool);
    if (rv == APR_SUCCESS && remove) cache.remove(key, pool);
    return rv;
}

}  // namespace

// One call to a remote provider, with its own copies of the bytes: a call that outlives its
// deadline finishes on its own thread after the handshake has moved on.
struct CacheCall {
    bool store = false;    // store `data` under `key` until `expiry`; else retrieve into `data`
    bool remove = false;   // after a successful retrieve (single-use sessions)
    apr_time_t expiry = 0;
    std::vector<unsigned char> key;
    std::vector<unsigned char> data;
    unsigned len = 0;      // retrieve: bytes found
};

// Counts the remote calls whose threads have not finished, so the store's destructor can wait for
// them (a bounded wait).
class RunningCalls {
public:
    void started() {
        std::lock_guard<std::mutex> g(m_);
        ++count_;
    }
    void finished() {
        std::lock_guard<std::mutex> g(m_);
        if (--count_ == 0) cv_.notify_all();
    }
    template <class Duration>
    bool wait_for_none(Duration limit) {
        std::unique_lock<std::mutex> lk(m_);
        return cv_.wait_for(lk, limit, [this] { return count_ == 0; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    int count_ = 0;
};

SocacheStore::SocacheStore(std::shared_ptr<SocacheInstance> cache, std::string spec,
                           unsigned lifetime_secs, server_rec *main_server)
    : cache_(std::move(cache)), running_(std::make_shared<RunningCalls>()), spec_(std::move(spec)),
      lifetime_secs_(lifetime_secs), main_(main_server),
      // Remote providers are safe across processes (they take no mutex), so their calls can run
      // on helper threads that touch nothing of the store.
      remote_((std::string_view(cache_->provider().name) == "memcache" ||
               std::string_view(cache_->provider().name) == "redis") &&
              (cache_->provider().flags & AP_SOCACHE_FLAG_NOTMPSAFE) == 0) {}

SocacheStore::~SocacheStore() {
    // Remote calls still running keep their share of the cache and finish on their own; the
    // cache goes with the last of them. Those that finish soon are waited for.
    running_->wait_for_none(kDrainWait);
}

apr_time_t SocacheStore::expiry() const {
    return apr_time_now() + apr_time_from_sec(lifetime_secs_);
}

bool SocacheStore::put(std::span<const uint8_t> key, std::span<const uint8_t> value) noexcept {
    if (!remote_) {
        ThreadCallPool pool;
        return report(store_in(*cache_, mutex_, key, expiry(), value, pool.get()),
                      "storing a session") == APR_SUCCESS;
    }
    try {
        auto call = std::make_shared<CacheCall>();
        call->store = true;
        call->expiry = expiry();
        call->key.assign(key.begin(), key.end());
        call->data.assign(value.begin(), value.end());
        return report(run(call), "storing a session") == APR_SUCCESS;
    } catch (...) {
        return false;
    }
}

std::optional<size_t> SocacheStore::get(std::span<const uint8_t> key, bool remove,
                                        std::span<uint8_t> out) noexcept {
    apr_status_t rv = APR_SUCCESS;
    unsigned len = 0;
    if (!remote_) {
        // Straight into the caller's buffer.
        ThreadCallPool pool;
        rv = retrieve_from(*cache_, mutex_, key, remove, out, len, pool.get());
    } else {
        try {
            auto call = std::make_shared<CacheCall>();
            call->remove = remove;
            call->key.assign(key.begin(), key.end());
            call->data.resize(out.size());
            rv = run(call);
            len = call->len;
            if (rv == APR_SUCCESS) {
                if (len > out.size() || len > call->data.size()) return std::nullopt;
                std::copy_n(call->data.begin(), len, out.begin());
            }
        } catch (...) {
            return std::nullopt;
        }
    }
    // Not found says nothing about the cache's health: a provider whose server is down
    // (memcache, redis) answers lookups with it too.
    if (rv == APR_NOTFOUND) return std::nullopt;
    if (report(rv, "looking up a session") != APR_SUCCESS) return std::nullopt;
    if (len > out.size()) return std::nullopt;
    return len;
}

// The call on a thread of its own, bounded in time (remote providers). APR_TIMEUP: given up
// (or skipped).
apr_status_t SocacheStore::run(const std::shared_ptr<CacheCall> &call) {
    if (apr_time_now() < skip_until_.load()) return APR_TIMEUP;
    struct Pending {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        apr_status_t rv = APR_EGENERAL;
    };
    auto pending = std::make_shared<Pending>();
    // The thread owns a share of everything it touches and nothing of the store, which may be
    // gone by the time the provider answers.
    running_->started();
    try {
        std::thread([cache = cache_, running = running_, call, pending]() mutable {
            apr_status_t rv = APR_EGENERAL;
            {
                CallPool pool;
                rv = call->store ? store_in(*cache, nullptr, call->key, call->expiry, call->data,
                                            pool.get())
                                 : retrieve_from(*cache, nullptr, call->key, call->remove,
                                                 call->data, call->len, pool.get());
            }
            // Let go of the cache before saying so: a store waiting for us then holds the last
            // share and tears the cache down itself.
            cache.reset();
            {
                std::lock_guard<std::mutex> g(pending->m);
                pending->rv = rv;
                pending->done = true;
                pending->cv.notify_all();
            }
            running->finished();
        }).detach();
    } catch (...) {
        running_->finished();
        throw;
    }
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
