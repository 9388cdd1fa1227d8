// One socache provider instance (TLSSessionCache) in an APR pool of its own, not in the
// configuration pool. It is shared by the setting that created it, the store that uses it and the
// memcache/redis calls still running on their helper threads (socache_store.h); the last of them
// destroys it. So a call that outlives its deadline never finds its provider's memory freed
// under it when Apache clears the configuration pool (graceful restart, stop, a reload).
#pragma once

#include <ap_socache.h>

#include <cstdint>
#include <span>

#include "apache/includes.h"

namespace mod_tls {

class SocacheInstance {
public:
    explicit SocacheInstance(const ap_socache_provider_t *provider);
    ~SocacheInstance();  // provider->destroy (if init() was called), then the pool
    SocacheInstance(const SocacheInstance &) = delete;
    SocacheInstance &operator=(const SocacheInstance &) = delete;

    // provider->create with `arg` (may be nullptr). nullptr on success, else why not.
    const char *create(const char *arg, apr_pool_t *ptemp);
    // provider->init (post_config, main server): `cache_name` names its entries.
    apr_status_t init(const char *cache_name, const ap_socache_hints &hints, server_rec *s);

    const ap_socache_provider_t &provider() const { return *provider_; }

    // The provider's calls. They get a server of this instance's own that logs only emergencies
    // (providers log every failed call, memcache at crit; the store reports outages itself, once)
    // and refers to nothing in the configuration pool. `pool` is for the call's allocations.
    apr_status_t store(std::span<const uint8_t> key, apr_time_t expiry,
                       std::span<const uint8_t> value, apr_pool_t *pool);
    // Into `out`; `len` is set to the bytes found.
    apr_status_t retrieve(std::span<const uint8_t> key, std::span<uint8_t> out, unsigned &len,
                          apr_pool_t *pool);
    apr_status_t remove(std::span<const uint8_t> key, apr_pool_t *pool);

private:
    const ap_socache_provider_t *provider_;
    apr_pool_t *pool_ = nullptr;
    ap_socache_instance_t *instance_ = nullptr;  // in pool_, once create() succeeded
    bool initialized_ = false;
    server_rec quiet_{};
};

}  // namespace mod_tls
