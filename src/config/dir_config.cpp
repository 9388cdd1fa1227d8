#include "config/dir_config.h"

#include <new>
#include <type_traits>

namespace mod_tls {

namespace {

// Per-directory configs are made per configuration section and merged per request: they hold
// plain values only, so they live in pool memory without a cleanup.
static_assert(std::is_trivially_destructible_v<DirConfig>);

DirConfig *make_dir_config(apr_pool_t *pool, const DirConfig &init) {
    void *mem = apr_palloc(pool, sizeof(DirConfig));
    return ::new (mem) DirConfig(init);
}

}  // namespace

void *create_dir_config(apr_pool_t *pool, char *) { return make_dir_config(pool, DirConfig{}); }

void *merge_dir_config(apr_pool_t *pool, void *base_v, void *add_v) {
    const auto *base = static_cast<const DirConfig *>(base_v);
    const auto *add = static_cast<const DirConfig *>(add_v);
    return make_dir_config(pool, DirConfig{merge_tls_options(base->options, add->options),
                                           merge_proxy_settings(base->proxy, add->proxy)});
}

const DirConfig *dir_config(const request_rec *r) {
    static const DirConfig kNone{};
    const auto *dc =
        static_cast<const DirConfig *>(ap_get_module_config(r->per_dir_config, &tls_module));
    return dc != nullptr ? dc : &kNone;
}

}  // namespace mod_tls
