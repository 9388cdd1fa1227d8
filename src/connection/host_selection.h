// Which virtual host a ClientHello's SNI names, among those reachable on the connection's address.
#pragma once

#include <string_view>

#include "apache/includes.h"

namespace mod_tls {

// True if name is s's ServerName, one of its ServerAlias names or matches a wildcard alias.
bool host_has_name(const server_rec *s, std::string_view name);

// The host for SNI name on connection c that serves TLS, or nullptr if none is named so. A name
// of the main server counts as known even where only virtual hosts serve the address.
server_rec *host_for_sni(conn_rec *c, std::string_view name);

}  // namespace mod_tls
