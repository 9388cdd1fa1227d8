#include "rustls/client_config.h"

#include "rustls/bytes.h"

namespace tls {

Result<ClientConfig> ClientConfig::build(const ClientConfigParams &params) {
    std::vector<const tlsb_certified_key *> keys;
    keys.reserve(params.keys.size());
    for (const CertifiedKey *k : params.keys) keys.push_back(k->get());

    tlsb_client_config_params raw{};
    raw.versions = params.versions.data();
    raw.versions_len = params.versions.size();
    raw.suites = params.cipher_suites.data();
    raw.suites_len = params.cipher_suites.size();
    raw.groups = params.kx_groups.data();
    raw.groups_len = params.kx_groups.size();
    raw.ca_pem = u8(std::span<const char>(params.ca_pem));
    raw.ca_len = params.ca_pem.size();
    raw.keys = keys.data();
    raw.keys_len = keys.size();

    tlsb_client_config *out = nullptr;
    tlsb_error err{};
    tlsb_result rc = tlsb_client_config_new(&raw, &out, &err);
    ClientConfigHandle handle(out);
    if (rc != TLSB_OK || !handle) return Error::from_bridge(rc == TLSB_OK ? TLSB_ERR_NULL : rc, err);
    return ClientConfig(std::move(handle));
}

}  // namespace tls
