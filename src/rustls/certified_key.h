// A certificate chain with its private key, parsed and checked by the bridge.
#pragma once

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

private:
    explicit CertifiedKey(CertifiedKeyHandle h) : handle_(std::move(h)) {}
    CertifiedKeyHandle handle_;
};

}  // namespace tls
