#include "integration/ocsp_stapling.h"

#include <http_ssl.h>

#include "rustls/bytes.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

const char *id_bytes(const tls::CertifiedKey::OcspId &id) {
    return tls::as_text(std::span<const uint8_t>(id)).data();
}

struct Delivery {
    const tls::CertifiedKey *key;
    bool delivered = false;
};

// Called by the provider with the DER response, valid only during the call: the bridge copies
// it only when it differs from the one stapled now.
void take_response(const unsigned char *der, apr_size_t len, void *userdata) {
    auto *d = static_cast<Delivery *>(userdata);
    d->key->set_ocsp_response(tls::as_u8(tls::as_text(der, len)));
    d->delivered = true;
}

}  // namespace

std::vector<OcspStaple> prime_ocsp(server_rec *s, apr_pool_t *p,
                                   const std::vector<std::shared_ptr<const tls::CertifiedKey>> &keys,
                                   const std::vector<std::string> &cert_paths) {
    std::vector<OcspStaple> staples;
    for (size_t i = 0; i < keys.size(); ++i) {
        const auto &key = keys[i];
        const std::string path = i < cert_paths.size() ? cert_paths[i] : "";
        OcspStaple staple{key, key->ocsp_id(), path};
        apr_status_t rv = ap_ssl_ocsp_prime(s, p, id_bytes(staple.id), staple.id.size(),
                                            key->ocsp_pem());
        if (rv == APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "TLS: OCSP stapling for %s (host %s)",
                         path.c_str(), s->server_hostname ? s->server_hostname : "?");
            staples.push_back(std::move(staple));
        } else if (key->chain_length() < 2 && ap_find_linked_module("mod_md.c") != nullptr) {
            // The provider does not say why it declined (stapling off, or no issuer): info only.
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         "TLS: no OCSP stapling for %s: the file has no issuer certificate after "
                         "the certificate, so no OCSP request can be built; to staple it, append "
                         "the issuing CA's certificate to it",
                         path.c_str());
        }
    }
    return staples;
}

void refresh_ocsp(server_rec *s, conn_rec *c, const std::vector<OcspStaple> &staples) {
    for (const OcspStaple &staple : staples) {
        Delivery d{staple.key.get()};
        apr_status_t rv = ap_ssl_ocsp_get_resp(s, c, id_bytes(staple.id), staple.id.size(),
                                               take_response, &d);
        if (rv != APR_SUCCESS || !d.delivered) staple.key->set_ocsp_response({});
    }
}

}  // namespace mod_tls
