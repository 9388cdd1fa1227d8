// Client certificate verification settings of one host (trust anchors, mode, CRLs), checked by
// the bridge at startup and handed to the host's server config.
#pragma once

#include <cstdint>
#include <span>

#include "rustls/error.h"
#include "rustls/handle.h"

namespace tls {

enum class ClientAuthMode : uint32_t {
    kOptional = TLSB_CLIENT_AUTH_OPTIONAL,
    kRequired = TLSB_CLIENT_AUTH_REQUIRED,
};

class ClientVerifier {
public:
    // ca_pem: the PEM trust anchors (TLSClientCA file's bytes).
    static Result<ClientVerifier> create(ClientAuthMode mode, std::span<const char> ca_pem);

    // Adds the CRLs of one file (PEM or DER); each must be signed by a trust anchor and current
    // at `now` (seconds since the epoch). Returns how many CRLs the file held.
    Result<size_t> add_crls(std::span<const char> file, int64_t now);

    const tlsb_client_verifier *get() const { return handle_.get(); }

private:
    explicit ClientVerifier(ClientVerifierHandle h) : handle_(std::move(h)) {}
    ClientVerifierHandle handle_;
};

}  // namespace tls
