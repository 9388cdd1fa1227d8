// C++ objects whose lifetime is an Apache pool: created with make_unique, destroyed by the pool's
// cleanup. The pool is their one owner; nobody deletes them by hand.
#pragma once

#include <memory>
#include <utility>

#include <apr_pools.h>

namespace mod_tls {

template <class T>
apr_status_t destroy_pool_owned(void *object) {
    std::unique_ptr<T> owner(static_cast<T *>(object));
    return APR_SUCCESS;
}

template <class T, class... Args>
T *make_pool_owned(apr_pool_t *pool, Args &&...args) {
    auto owner = std::make_unique<T>(std::forward<Args>(args)...);
    apr_pool_cleanup_register(pool, owner.get(), destroy_pool_owned<T>, apr_pool_cleanup_null);
    return owner.release();
}

}  // namespace mod_tls
