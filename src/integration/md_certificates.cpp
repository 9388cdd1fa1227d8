#include "integration/md_certificates.h"

#include <http_ssl.h>

#include "apache/file_bytes.h"

namespace mod_tls {

namespace {

std::string at(const apr_array_header_t *a, int i) {
    const char *v = i < a->nelts ? APR_ARRAY_IDX(a, i, const char *) : nullptr;
    return v ? v : "";
}

// Loads the (certificate, key) file pairs mod_md put into the arrays.
std::string load_pairs(apr_pool_t *p, const apr_array_header_t *certs,
                       const apr_array_header_t *keys, std::vector<CertificateEntry> &out) {
    for (int i = 0; i < certs->nelts; ++i) {
        CertificateEntry entry;
        entry.cert_path = at(certs, i);
        entry.key_path = at(keys, i).empty() ? entry.cert_path : at(keys, i);
        FileBytes cert = read_file_bytes(p, entry.cert_path.c_str());
        if (!cert.ok) return "mod_md's certificate: " + cert.error;
        FileBytes key = read_file_bytes(p, entry.key_path.c_str());
        if (!key.ok) return "mod_md's key: " + key.error;
        auto loaded = tls::CertifiedKey::from_pem(std::span<const char>(cert.data),
                                                  std::span<const char>(key.data));
        if (!loaded) {
            return "mod_md's certificate '" + entry.cert_path + "' with key '" + entry.key_path +
                   "': " + loaded.error().message();
        }
        entry.key = std::make_shared<const tls::CertifiedKey>(std::move(loaded.value()));
        out.push_back(std::move(entry));
    }
    return {};
}

}  // namespace

MdCertificates md_certificates_for(server_rec *s, apr_pool_t *p) {
    MdCertificates md;
    apr_array_header_t *certs = apr_array_make(p, 2, sizeof(const char *));
    apr_array_header_t *keys = apr_array_make(p, 2, sizeof(const char *));
    ap_ssl_add_cert_files(s, p, certs, keys);
    if (certs->nelts == 0) {
        ap_ssl_add_fallback_cert_files(s, p, certs, keys);
        md.fallback = certs->nelts > 0;
    }
    md.error = load_pairs(p, certs, keys, md.entries);
    if (!md.error.empty()) md.entries.clear();
    return md;
}

}  // namespace mod_tls
