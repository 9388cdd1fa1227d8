// OCSP stapling through http_ssl.h: at startup every certificate of a TLS host is offered to the
// OCSP provider (mod_md with MDStapling on / MDStapleOthers on), which fetches and renews the
// responses in its watchdog; in each handshake the host's current responses are handed to the
// bridge, which staples them (TLS 1.2 status_request and TLS 1.3 CertificateEntry alike).
#pragma once

#include <memory>
#include <vector>

#include "apache/includes.h"
#include "rustls/certified_key.h"

namespace mod_tls {

// A certificate whose OCSP responses a provider has agreed to supply.
struct OcspStaple {
    std::shared_ptr<const tls::CertifiedKey> key;
    tls::CertifiedKey::OcspId id;
    std::string cert_path;  // for log lines
};

// post_config: offers each key to the provider for host s; returns those it took on. Hosts
// without stapling get an empty list, so their handshakes do no OCSP work at all.
std::vector<OcspStaple> prime_ocsp(server_rec *s, apr_pool_t *p,
                                   const std::vector<std::shared_ptr<const tls::CertifiedKey>> &keys,
                                   const std::vector<std::string> &cert_paths);

// ClientHello, host chosen: the provider's current response for each stapled key goes to the
// bridge (none available: nothing is stapled; a handshake never waits for a responder).
void refresh_ocsp(server_rec *s, conn_rec *c, const std::vector<OcspStaple> &staples);

}  // namespace mod_tls
