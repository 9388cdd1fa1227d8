// SSL_* variables of TLS connections, as mod_ssl names them: the ssl_var_lookup hook and the
// export into the CGI/SSI environment (TLSOptions StdEnvVars / ExportCertData).
#pragma once

#include "apache/includes.h"

namespace mod_tls {

// The ssl_var_lookup hook: the value of `name` for c (or r's connection), allocated from p;
// nullptr when c is not ours or the variable is unknown or has no value.
const char *lookup_ssl_var(apr_pool_t *p, server_rec *s, conn_rec *c, request_rec *r,
                           const char *name);

// pre_connection hook (after attach_connection): gives a TLS connection its variables cache.
int attach_vars_cache(conn_rec *c, void *csd);

// fixups hook: HTTPS, SSL_TLS_SNI, SSL_PROTOCOL, SSL_CIPHER into r->subprocess_env on every TLS
// request; the rest where TLSOptions +StdEnvVars / +ExportCertData apply to r's directory.
int export_ssl_vars(request_rec *r);

}  // namespace mod_tls
