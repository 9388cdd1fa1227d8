#include "connection/host_selection.h"

#include <strings.h>

#include <string>

#include "config/server_config.h"

namespace mod_tls {

namespace {

struct SniSearch {
    std::string name;  // NUL-terminated copy for Apache's matchers
    server_rec *found = nullptr;
};

bool names_contain(const apr_array_header_t *names, const char *name, bool wildcard) {
    if (names == nullptr) return false;
    const auto *items = reinterpret_cast<char *const *>(names->elts);
    for (int i = 0; i < names->nelts; ++i) {
        if (items[i] == nullptr) continue;
        if (wildcard ? ap_strcasecmp_match(name, items[i]) == 0 : strcasecmp(name, items[i]) == 0)
            return true;
    }
    return false;
}

int match_host(void *baton, conn_rec *, server_rec *s) {
    auto *search = static_cast<SniSearch *>(baton);
    if (server_config(s)->compiled == nullptr) return 0;
    if (!host_has_name(s, search->name)) return 0;
    search->found = s;
    return 1;  // stop at the first host, in configuration order
}

}  // namespace

bool host_has_name(const server_rec *s, std::string_view name) {
    const std::string n(name);
    if (s->server_hostname != nullptr && strcasecmp(n.c_str(), s->server_hostname) == 0)
        return true;
    return names_contain(s->names, n.c_str(), false) ||
           names_contain(s->wild_names, n.c_str(), true);
}

server_rec *host_for_sni(conn_rec *c, std::string_view name) {
    if (name.empty()) return nullptr;
    SniSearch search{std::string(name)};
    ap_vhost_iterate_given_conn(c, match_host, &search);
    if (search.found != nullptr) return search.found;
    // The main server's names count too: it serves if it has TLS here, else the first host does.
    if (host_has_name(ap_server_conf, name)) {
        return server_config(ap_server_conf)->compiled ? ap_server_conf : c->base_server;
    }
    return nullptr;
}

}  // namespace mod_tls
