#include "rustls/client_verifier.h"

#include "rustls/bytes.h"

namespace tls {

Result<ClientVerifier> ClientVerifier::create(ClientAuthMode mode, std::span<const char> ca_pem) {
    tlsb_client_verifier *raw = nullptr;
    tlsb_error err{};
    tlsb_result rc = tlsb_client_verifier_new(static_cast<uint32_t>(mode), u8(ca_pem),
                                              ca_pem.size(), &raw, &err);
    ClientVerifierHandle handle(raw);
    if (rc != TLSB_OK || !handle) return Error::from_bridge(rc == TLSB_OK ? TLSB_ERR_NULL : rc, err);
    return ClientVerifier(std::move(handle));
}

Result<size_t> ClientVerifier::add_crls(std::span<const char> file, int64_t now) {
    size_t count = 0;
    tlsb_error err{};
    tlsb_result rc = tlsb_client_verifier_add_crls(handle_.get(), u8(file), file.size(), now,
                                                   &count, &err);
    if (rc != TLSB_OK) return Error::from_bridge(rc, err);
    return count;
}

}  // namespace tls
