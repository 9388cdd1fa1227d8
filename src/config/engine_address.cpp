#include "config/engine_address.h"

#include <arpa/inet.h>

#include <string_view>

#include <apr_strings.h>

namespace mod_tls {

namespace {

bool is_ip_literal(const char *host) {
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

}  // namespace

const char *parse_engine_address(apr_pool_t *pool, const char *arg, EngineAddress *out) {
    char *host = nullptr;
    char *scope = nullptr;
    apr_port_t port = 0;
    if (apr_parse_addr_port(&host, &scope, &port, arg, pool) != APR_SUCCESS || port == 0 ||
        scope != nullptr) {
        return apr_psprintf(pool,
                            "'%s' is not [address:]port; write e.g. 443, *:443, 127.0.0.1:443 or "
                            "[::1]:443",
                            arg);
    }
    out->text = arg;
    out->port = port;
    out->ip = nullptr;
    if (host == nullptr || std::string_view(host) == "*") return nullptr;
    if (!is_ip_literal(host)) {
        return apr_psprintf(pool,
                            "'%s' is not an IP address; TLSEngine takes [address:]port with an IP "
                            "address (e.g. 127.0.0.1:443, [::1]:443) or just the port",
                            host);
    }
    apr_sockaddr_t *sa = nullptr;
    if (apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, pool) != APR_SUCCESS || !sa) {
        return apr_psprintf(pool, "cannot use address '%s'", host);
    }
    out->ip = sa;
    return nullptr;
}

bool engine_matches(const EngineAddress &engine, const apr_sockaddr_t *local) {
    if (local == nullptr || local->port != engine.port) return false;
    return engine.ip == nullptr || apr_sockaddr_equal(engine.ip, local);
}

bool engine_overlaps(const EngineAddress &engine, const apr_sockaddr_t *addr,
                     bool addr_is_wildcard) {
    if (addr == nullptr || (addr->port != 0 && addr->port != engine.port)) return false;
    return engine.ip == nullptr || addr_is_wildcard || apr_sockaddr_equal(engine.ip, addr);
}

}  // namespace mod_tls
