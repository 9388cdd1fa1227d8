// SSL_* variables of TLS connections, as mod_ssl names them (ssl_var_lookup hook).
#pragma once

#include "apache/includes.h"

namespace mod_tls {

// The ssl_var_lookup hook: the value of `name` for c (or r's connection), allocated from p;
// nullptr when c is not ours or the variable is unknown.
const char *lookup_ssl_var(apr_pool_t *p, server_rec *s, conn_rec *c, request_rec *r,
                           const char *name);

}  // namespace mod_tls
