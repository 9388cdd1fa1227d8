// What the TLSProxy* directives of one scope (server, virtual host, <Proxy>) said. Lives in the
// per-directory config (mod_proxy hands the request's merged per-directory config to
// ssl_bind_outgoing), so the three scopes merge as Apache merges per-directory configs: inner
// scopes override setting by setting. Plain pointers only: the values are owned by the
// configuration pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rustls/certified_key.h"

namespace mod_tls {

struct ProxyCertificate {
    std::string files;  // "cert|key", for messages and for telling configs apart
    std::shared_ptr<const tls::CertifiedKey> key;
};

struct ProxyCa {
    std::string file;  // absolute path
    std::string pem;   // read at startup (by root), so workers need not read the file
};

struct ProxySettings {
    int engine = -1;                                      // TLSProxyEngine: -1 unset, 0, 1
    const ProxyCa *ca = nullptr;                          // TLSProxyCA; unset: system store
    uint16_t min_protocol = 0;                            // TLSProxyProtocol; 0 unset
    const std::vector<uint16_t> *prefer = nullptr;        // TLSProxyCiphersPrefer
    const std::vector<uint16_t> *suppress = nullptr;      // TLSProxyCiphersSuppress
    const std::vector<ProxyCertificate> *certs = nullptr; // TLSProxyMachineCertificate

    bool engine_on() const { return engine == 1; }
};

inline ProxySettings merge_proxy_settings(const ProxySettings &base, const ProxySettings &add) {
    ProxySettings m = base;
    if (add.engine != -1) m.engine = add.engine;
    if (add.ca != nullptr) m.ca = add.ca;
    if (add.min_protocol != 0) m.min_protocol = add.min_protocol;
    if (add.prefer != nullptr) m.prefer = add.prefer;
    if (add.suppress != nullptr) m.suppress = add.suppress;
    if (add.certs != nullptr) m.certs = add.certs;
    return m;
}

}  // namespace mod_tls
