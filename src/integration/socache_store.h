// The session store every host's rustls config uses when TLSSessionCache names a socache
// provider: one provider instance for the whole server (all hosts, all worker processes), so a
// session made anywhere resumes anywhere that reaches the same cache. The store lives in the
// configuration pool. Failures never fail a handshake (it becomes a full one); outages are logged
// once (outage_gate.h).
//
// memcached and redis are other machines: apr's memcache client has no read timeout, and a
// stalled (not dead) server would hold handshakes forever. Calls to those providers therefore run
// on a helper thread and are given up after kCallDeadline; the cache is then skipped for
// kSkipAfterTimeout (handshakes are full, without waiting) before it is tried again.
//
// A call given up on goes on running on its thread, as long as the server does not answer. It
// touches only what it owns a share of (its bytes, the provider instance: socache_instance.h),
// never the store, so it stays safe when the configuration pool and the store are gone. The
// store's destructor waits up to kDrainWait for such calls, so that normally the cache is torn
// down there, in order. (The provider's code and ours stay mapped: httpd unloads modules only
// with the configuration pool, which it clears only in the parent, where no handshake runs;
// worker processes end with exit() and never clear it.)
#pragma once

#include <ap_socache.h>
#include <apr_global_mutex.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "apache/includes.h"
#include "integration/outage_gate.h"
#include "integration/socache_instance.h"
#include "rustls/session_store.h"

namespace mod_tls {

struct CacheCall;     // one remote call with its own copies of the bytes (socache_store.cpp)
class RunningCalls;   // remote calls not finished yet, for the destructor to wait for

class SocacheStore final : public tls::SessionStore {
public:
    static constexpr auto kCallDeadline = std::chrono::milliseconds(1000);
    static constexpr apr_interval_time_t kSkipAfterTimeout = apr_time_from_sec(10);
    // How long the destructor waits for remote calls still running.
    static constexpr auto kDrainWait = kCallDeadline;
    // While the cache stays down, repeat the error line at most this often (per process).
    static constexpr int64_t kOutageRepeatSecs = 60;

    // cache: created (provider->create) but not yet initialized; `spec` names the cache in log
    // lines. Sessions are stored for `lifetime_secs`.
    SocacheStore(std::shared_ptr<SocacheInstance> cache, std::string spec, unsigned lifetime_secs,
                 server_rec *main_server);
    ~SocacheStore() override;
    SocacheStore(const SocacheStore &) = delete;
    SocacheStore &operator=(const SocacheStore &) = delete;

    // Where post_config creates the global mutex (providers flagged AP_SOCACHE_FLAG_NOTMPSAFE)
    // and child_init reattaches it.
    apr_global_mutex_t **mutex_slot() { return &mutex_; }
    const std::string &spec() const { return spec_; }

    bool put(std::span<const uint8_t> key, std::span<const uint8_t> value) noexcept override;
    std::optional<size_t> get(std::span<const uint8_t> key, bool remove,
                              std::span<uint8_t> out) noexcept override;

private:
    apr_time_t expiry() const;
    apr_status_t run(const std::shared_ptr<CacheCall> &call);
    apr_status_t report(apr_status_t rv, const char *doing) noexcept;

    std::shared_ptr<SocacheInstance> cache_;
    std::shared_ptr<RunningCalls> running_;
    std::string spec_;
    unsigned lifetime_secs_;
    server_rec *main_;
    const bool remote_;
    apr_global_mutex_t *mutex_ = nullptr;
    OutageGate gate_{kOutageRepeatSecs};
    std::atomic<apr_time_t> skip_until_{0};
};

}  // namespace mod_tls
