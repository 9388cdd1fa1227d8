#include "vars/user_name.h"

#include "config/compile.h"
#include "config/server_config.h"
#include "connection/tls_connection.h"
#include "vars/ssl_vars.h"

namespace mod_tls {

namespace {

// The TLSUserName of the request's host, or nullptr.
const std::string *user_name_variable(const request_rec *r, const TlsConnection &tc) {
    const ServerConfig *conf = server_config(r->server);
    const HostTls *host = conf != nullptr && conf->compiled != nullptr ? conf->compiled : tc.host;
    if (host == nullptr || host->user_name.empty()) return nullptr;
    return &host->user_name;
}

void set_user(request_rec *r) {
    if (r->user != nullptr) return;
    const TlsConnection *tc = tls_connection(r->connection);
    if (tc == nullptr) return;
    const std::string *var = user_name_variable(r, *tc);
    if (var == nullptr) return;
    const char *value = lookup_ssl_var(r->pool, r->server, r->connection, r, var->c_str());
    if (value != nullptr && *value != '\0') r->user = apr_pstrdup(r->pool, value);
}

}  // namespace

int user_from_certificate_authn(request_rec *r) {
    set_user(r);
    return DECLINED;
}

int user_from_certificate_fixup(request_rec *r) {
    set_user(r);
    return DECLINED;
}

}  // namespace mod_tls
