#include "rustls/certified_key.h"

#include "rustls/bytes.h"

namespace tls {

Result<CertifiedKey> CertifiedKey::from_pem(std::span<const char> cert_pem,
                                            std::span<const char> key_pem) {
    tlsb_certified_key *raw = nullptr;
    tlsb_error err{};
    tlsb_result rc = tlsb_certified_key_new(u8(cert_pem), cert_pem.size(), u8(key_pem),
                                            key_pem.size(), &raw, &err);
    CertifiedKeyHandle handle(raw);
    if (rc != TLSB_OK || !handle) return Error::from_bridge(rc == TLSB_OK ? TLSB_ERR_NULL : rc, err);
    return CertifiedKey(std::move(handle));
}

size_t CertifiedKey::chain_length() const { return tlsb_certified_key_chain_len(handle_.get()); }

std::string_view CertifiedKey::algorithm() const {
    return tlsb_certified_key_algorithm(handle_.get());
}

CertifiedKey::OcspId CertifiedKey::ocsp_id() const {
    OcspId id{};
    tlsb_certified_key_ocsp_id(handle_.get(), id.data(), id.size());
    return id;
}

void CertifiedKey::set_ocsp_response(std::span<const uint8_t> der) const {
    tlsb_certified_key_set_ocsp(handle_.get(), der.data(), der.size());
}

}  // namespace tls
