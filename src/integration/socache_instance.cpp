#include "integration/socache_instance.h"

namespace mod_tls {

namespace {

unsigned length_of(std::span<const uint8_t> bytes) { return static_cast<unsigned>(bytes.size()); }

}  // namespace

SocacheInstance::SocacheInstance(const ap_socache_provider_t *provider) : provider_(provider) {
    // A child of APR's global pool, which no configuration reload clears; and thread-safe, as the
    // configuration pool is: providers make sub-pools of it from concurrent calls (memcache's
    // and redis's connection pools).
    if (apr_pool_create(&pool_, nullptr) != APR_SUCCESS) pool_ = nullptr;
    quiet_.log.level = APLOG_EMERG;
}

SocacheInstance::~SocacheInstance() {
    // Only what init() set up is torn down: destroying an instance that a configuration test
    // (apache2 -t) merely created would remove the files of the running server's cache (dbm).
    if (initialized_) provider_->destroy(instance_, &quiet_);
    if (pool_ != nullptr) apr_pool_destroy(pool_);
}

const char *SocacheInstance::create(const char *arg, apr_pool_t *ptemp) {
    if (pool_ == nullptr) return "out of memory";
    ap_socache_instance_t *made = nullptr;
    const char *copy = arg != nullptr ? apr_pstrdup(pool_, arg) : nullptr;
    if (const char *err = provider_->create(&made, copy, ptemp, pool_)) return err;
    instance_ = made;
    return nullptr;
}

apr_status_t SocacheInstance::init(const char *cache_name, const ap_socache_hints &hints,
                                   server_rec *s) {
    if (instance_ == nullptr) return APR_EINIT;
    initialized_ = true;
    return provider_->init(instance_, cache_name, &hints, s, pool_);
}

apr_status_t SocacheInstance::store(std::span<const uint8_t> key, apr_time_t expiry,
                                    std::span<const uint8_t> value, apr_pool_t *pool) {
    if (instance_ == nullptr) return APR_EINIT;
    // The socache API takes the value as non-const; providers only copy it.
    return provider_->store(instance_, &quiet_, key.data(), length_of(key), expiry,
                            const_cast<unsigned char *>(value.data()), length_of(value), pool);
}

apr_status_t SocacheInstance::retrieve(std::span<const uint8_t> key, std::span<uint8_t> out,
                                       unsigned &len, apr_pool_t *pool) {
    if (instance_ == nullptr) return APR_EINIT;
    len = static_cast<unsigned>(out.size());
    return provider_->retrieve(instance_, &quiet_, key.data(), length_of(key), out.data(), &len,
                               pool);
}

apr_status_t SocacheInstance::remove(std::span<const uint8_t> key, apr_pool_t *pool) {
    if (instance_ == nullptr) return APR_EINIT;
    return provider_->remove(instance_, &quiet_, key.data(), length_of(key), pool);
}

}  // namespace mod_tls
