// Per-directory configuration (<Directory>, <Location>, .htaccess, and the server/vhost defaults):
// the TLSOptions of each scope, merged inner over outer; and the TLSProxy* settings, which live
// here because mod_proxy passes the request's merged per-directory config to ssl_bind_outgoing.
#pragma once

#include "apache/includes.h"
#include "config/tls_options.h"
#include "proxy/proxy_settings.h"

namespace mod_tls {

struct DirConfig {
    TlsOptions options;
    ProxySettings proxy;  // TLSProxy* (server, vhost and <Proxy> scopes)
};

// The merged per-directory configuration of a request (never nullptr).
const DirConfig *dir_config(const request_rec *r);

// The module record's per-directory config creator and merger.
void *create_dir_config(apr_pool_t *pool, char *dir);
void *merge_dir_config(apr_pool_t *pool, void *base, void *add);

}  // namespace mod_tls
