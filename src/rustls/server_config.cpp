#include "rustls/server_config.h"

#include "rustls/bytes.h"

namespace tls {

namespace {

// The C callbacks of tlsb_session_store, forwarding to the SessionStore in `user`.
int store_put(void *user, const uint8_t *key, size_t key_len, const uint8_t *value,
              size_t value_len) {
    if (user == nullptr || key == nullptr || value == nullptr) return 0;
    return static_cast<SessionStore *>(user)->put({key, key_len}, {value, value_len}) ? 1 : 0;
}

int store_get(void *user, const uint8_t *key, size_t key_len, int remove, uint8_t *buf,
              size_t cap, size_t *len) {
    if (user == nullptr || key == nullptr || buf == nullptr || len == nullptr) return 0;
    std::optional<size_t> got =
        static_cast<SessionStore *>(user)->get({key, key_len}, remove != 0, {buf, cap});
    if (!got || *got > cap) return 0;
    *len = *got;
    return 1;
}

}  // namespace

Result<ServerConfig> ServerConfig::build(const ServerConfigParams &params) {
    std::vector<const tlsb_certified_key *> keys;
    keys.reserve(params.keys.size());
    for (const CertifiedKey *k : params.keys) keys.push_back(k->get());

    std::vector<const uint8_t *> alpn;
    std::vector<size_t> alpn_lens;
    for (const std::string &p : params.alpn) {
        alpn.push_back(u8(std::span<const char>(p)));
        alpn_lens.push_back(p.size());
    }

    tlsb_server_config_params raw{};
    raw.versions = params.versions.data();
    raw.versions_len = params.versions.size();
    raw.suites = params.cipher_suites.data();
    raw.suites_len = params.cipher_suites.size();
    raw.groups = params.kx_groups.data();
    raw.groups_len = params.kx_groups.size();
    raw.keys = keys.data();
    raw.keys_len = keys.size();
    raw.honor_client_order = params.honor_client_order ? 1 : 0;
    raw.alpn = alpn.data();
    raw.alpn_lens = alpn_lens.data();
    raw.alpn_len = alpn.size();
    raw.client_verifier = params.client_verifier ? params.client_verifier->get() : nullptr;
    tlsb_session_store store{params.session_store, store_put, store_get};
    raw.session_store = params.session_store != nullptr ? &store : nullptr;
    raw.no_session_cache = params.no_session_cache ? 1 : 0;
    raw.ticket_keys = params.ticket_keys != nullptr ? params.ticket_keys->get() : nullptr;
    raw.session_scope = as_u8(params.session_scope).data();
    raw.session_scope_len = params.session_scope.size();

    tlsb_server_config *out = nullptr;
    tlsb_error err{};
    tlsb_result rc = tlsb_server_config_new(&raw, &out, &err);
    ServerConfigHandle handle(out);
    if (rc != TLSB_OK || !handle) return Error::from_bridge(rc == TLSB_OK ? TLSB_ERR_NULL : rc, err);
    return ServerConfig(std::move(handle));
}

}  // namespace tls
