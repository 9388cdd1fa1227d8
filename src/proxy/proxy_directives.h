// The TLSProxy* directives (server, virtual host and <Proxy> contexts). Their entries are in
// config/directives.cpp's command table; the handlers store into the scope's ProxySettings.
#pragma once

#include "apache/includes.h"

namespace mod_tls {

const char *set_proxy_engine(cmd_parms *cmd, void *dir, const char *arg);
const char *set_proxy_ca(cmd_parms *cmd, void *dir, const char *arg);
const char *set_proxy_protocol(cmd_parms *cmd, void *dir, const char *arg);
const char *set_proxy_ciphers_prefer(cmd_parms *cmd, void *dir, int argc, char *const argv[]);
const char *set_proxy_ciphers_suppress(cmd_parms *cmd, void *dir, int argc, char *const argv[]);
const char *add_proxy_machine_certificate(cmd_parms *cmd, void *dir, const char *cert,
                                          const char *key);

// Where the directives may appear: server config, <VirtualHost>, <Proxy>.
inline constexpr int kProxyDirectiveContext = RSRC_CONF | PROXY_CONF;

}  // namespace mod_tls
