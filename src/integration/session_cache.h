// TLSSessionCache: where resumable TLS sessions live, on Apache's socache providers
// (mod_socache_shmcb, mod_socache_memcache, mod_socache_redis), so that a session made in one
// worker process — or, with memcache/redis, on one server of a cluster — resumes in another.
//
// Default (directive absent or `default`): shmcb in Apache's runtime directory, shared by all
// worker processes; if mod_socache_shmcb is not loaded, a startup warning and rustls's cache per
// process. `none`: no cache (no resumption, unless TLSSessionTicketKeys issues tickets).
// A cache that fails never fails a handshake: it becomes a full handshake, and the error log gets
// one line per outage (see outage_gate.h).
#pragma once

#include <memory>
#include <string>

#include "apache/includes.h"
#include "config/directive_site.h"
#include "integration/socache_instance.h"
#include "rustls/server_config.h"

namespace mod_tls {

// TLSSessionCache as written (main server only). The provider instance is created when the
// directive is read (so a bad argument is reported at its line) and initialized by post_config.
struct SessionCacheSetting {
    std::string spec;  // as written, for messages
    bool none = false;
    std::shared_ptr<SocacheInstance> cache;  // unless none
    DirectiveSite site;
};

// How long a session stays resumable (seconds; SSLSessionCacheTimeout's default). Also the
// lifetime of session tickets.
inline constexpr uint32_t kSessionLifetimeSecs = 300;

// TLSSessionCache none|default|provider[:arg] — main server only.
const char *set_session_cache(cmd_parms *cmd, void *, const char *arg);

// pre_config: registers the `tls-session-cache` mutex (configurable with Mutex).
int register_session_cache_mutex(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);

// post_config (parent), before compile_config: creates and initializes the cache. Logs and
// returns !OK when a configured cache cannot be set up.
int init_session_cache(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

// child_init: reattaches the cache's mutex in a new worker process.
void attach_session_cache(apr_pool_t *pchild, server_rec *s);

// compile: the resumption settings every host's rustls config gets (cache and ticket keys).
void apply_resumption_settings(tls::ServerConfigParams &params, const server_rec *main_server);

}  // namespace mod_tls
