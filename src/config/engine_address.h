// TLSEngine [address:]port — which listening addresses serve TLS.
#pragma once

#include <cstdint>
#include <string>

#include <apr_network_io.h>

#include "config/directive_site.h"

namespace mod_tls {

struct EngineAddress {
    std::string text;               // as written, for messages
    uint16_t port = 0;
    apr_sockaddr_t *ip = nullptr;   // nullptr: every address on the port
    DirectiveSite site;
};

// Parses "443", "*:443", "127.0.0.1:443", "[::1]:443". Only IP literals (no DNS look-ups).
// Returns an error message, or nullptr with *out filled. Allocates from pool.
const char *parse_engine_address(apr_pool_t *pool, const char *arg, EngineAddress *out);

// True if a connection to local (its local address) is on this engine address.
bool engine_matches(const EngineAddress &engine, const apr_sockaddr_t *local);
// True if an address Apache binds or a vhost is defined for (ip may be a wildcard) can receive
// connections that this engine address covers.
bool engine_overlaps(const EngineAddress &engine, const apr_sockaddr_t *addr, bool addr_is_wildcard);

}  // namespace mod_tls
