// TLSUserName: the request's user (r->user) from an SSL_* variable of the connection, e.g. the
// client certificate's SSL_CLIENT_S_DN_CN, so that `%u`, REMOTE_USER and `Require user` see it.
#pragma once

#include "apache/includes.h"

namespace mod_tls {

// check_authn hook (first): sets r->user before authorization asks for it; always DECLINED so
// configured authentication modules still run.
int user_from_certificate_authn(request_rec *r);
// fixups hook: sets r->user for requests that needed no authentication (the access log's %u).
int user_from_certificate_fixup(request_rec *r);

}  // namespace mod_tls
