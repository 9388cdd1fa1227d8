// Certificates from mod_md (Apache's ACME client) through http_ssl.h: for a TLS host without
// its own TLSCertificate, mod_md may supply the certificate it obtained
// (ap_ssl_add_cert_files) or, while it has none yet, a self-signed fallback
// (ap_ssl_add_fallback_cert_files) — a host served with the fallback answers requests with 503.
#pragma once

#include <string>
#include <vector>

#include "apache/includes.h"
#include "config/server_config.h"

namespace mod_tls {

struct MdCertificates {
    std::vector<CertificateEntry> entries;  // empty: mod_md supplies nothing for this host
    bool fallback = false;                  // mod_md's temporary self-signed certificate
    std::string error;                      // a file mod_md named could not be loaded
};

// post_config (after mod_md's own post_config has set up its store): what mod_md supplies for s.
MdCertificates md_certificates_for(server_rec *s, apr_pool_t *p);

}  // namespace mod_tls
