// A certificate chain with its private key, parsed and checked by the bridge.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "rustls/error.h"
#include "rustls/handle.h"

namespace tls {

class CertifiedKey {
public:
    // Parses PEM chain and key (key_pem may be the same bytes as cert_pem); checks they match.
    static Result<CertifiedKey> from_pem(std::span<const char> cert_pem,
                                         std::span<const char> key_pem);

    const tlsb_certified_key *get() const { return handle_.get(); }
    size_t chain_length() const;
    std::string_view algorithm() const;  // "RSA", "ECDSA", "Ed25519"

    // OCSP stapling. The certificate's id (SHA-256 of its DER), the PEM of it and its issuer
    // (when the chain has one) for an OCSP client, and the response to staple from now on in
    // every config holding this key (empty: none). Thread-safe.
    using OcspId = std::array<uint8_t, TLSB_OCSP_ID_LEN>;
    OcspId ocsp_id() const;
    const char *ocsp_pem() const { return tlsb_certified_key_ocsp_pem(handle_.get()); }
    void set_ocsp_response(std::span<const uint8_t> der) const;

private:
    explicit CertifiedKey(CertifiedKeyHandle h) : handle_(std::move(h)) {}
    CertifiedKeyHandle handle_;
};

}  // namespace tls
