// Whether mod_ssl serves a server too ("SSLEngine on" in its section): an address is either
// mod_ssl's or mod_tls's, so startup refuses a TLSEngine address where mod_ssl is enabled.
#pragma once

#include "apache/includes.h"

namespace mod_tls {

// True if the configuration section that defines s (its <VirtualHost>, or the top level for the
// main server) says "SSLEngine on" (or "optional"), read from Apache's parsed configuration tree.
bool mod_ssl_enabled_for(const server_rec *s, const server_rec *main_server);

}  // namespace mod_tls
