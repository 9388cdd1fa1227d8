#include "integration/acme_challenge.h"

#include <cstring>
#include <string>

#include <http_protocol.h>
#include <http_ssl.h>

#include "config/compile.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

std::optional<tls::ServerConfig> acme_challenge_config(conn_rec *c, server_rec *s,
                                                       std::string_view sni) {
    ap_switch_protocol(c, nullptr, s, kAlpnAcme);
    if (sni.empty()) return std::nullopt;
    const std::string name(sni);
    const char *cert_pem = nullptr;
    const char *key_pem = nullptr;
    if (!ap_ssl_answer_challenge(c, name.c_str(), &cert_pem, &key_pem) || cert_pem == nullptr ||
        key_pem == nullptr) {
        return std::nullopt;
    }
    auto key = tls::CertifiedKey::from_pem(std::span<const char>(cert_pem, std::strlen(cert_pem)),
                                           std::span<const char>(key_pem, std::strlen(key_pem)));
    if (!key) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c,
                      "TLS: unusable tls-alpn-01 challenge certificate for %s: %s", name.c_str(),
                      key.error().message().c_str());
        return std::nullopt;
    }
    tls::ServerConfigParams params;
    params.keys = {&key.value()};
    params.alpn = {kAlpnAcme};
    auto config = tls::ServerConfig::build(params);
    if (!config) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c,
                      "TLS: cannot build the tls-alpn-01 challenge configuration for %s: %s",
                      name.c_str(), config.error().message().c_str());
        return std::nullopt;
    }
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, "TLS: answering ACME tls-alpn-01 challenge for %s",
                  name.c_str());
    return std::move(config.value());
}

}  // namespace mod_tls
