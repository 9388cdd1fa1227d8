// SSL variables in ap_expr (%{SSL:NAME}, %{SSL_NAME}: Require expr, Header expr=, <If>) and in
// log formats (%{NAME}x). mod_ssl registers the same names; ours dispatch through
// ap_ssl_var_lookup, so they answer for the connections of both modules when both are loaded.
#pragma once

#include "apache/includes.h"

namespace mod_tls {

// expr_lookup hook (ordered before mod_ssl's).
int lookup_expr_function(ap_expr_lookup_parms *parms);
// pre_config hook (ordered after mod_ssl's): registers the %{NAME}x log format handler.
int register_log_format(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);

}  // namespace mod_tls
