// rustls client configs for backends: one per distinct set of TLSProxy* settings, built at
// post_config (in the parent, so workers inherit them) for the server, virtual host and <Proxy>
// scopes where TLSProxyEngine is on, and shared by every backend connection using that set.
#pragma once

#include <string>

#include "apache/includes.h"
#include "proxy/proxy_settings.h"
#include "rustls/client_config.h"

namespace mod_tls {

// The file used when TLSProxyCA is not set.
inline constexpr const char *kSystemCaFile = "/etc/ssl/certs/ca-certificates.crt";

// post_config hook: builds the configs; a setting that cannot work stops startup.
int compile_backend_configs(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *main_server);

// The config for a request's merged settings. A combination post_config did not see (an unusual
// merge) is built once on first use. nullptr with *error set if it cannot be built.
const tls::ClientConfig *backend_config_for(const ProxySettings &settings, std::string *error);

}  // namespace mod_tls
