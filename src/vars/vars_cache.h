// Parsed certificates of one TLS connection for the SSL_* variables, made on first use and kept
// for the connection's life (hung off TlsConnection::vars; owned by the connection's pool).
// HTTP/2 streams ask from several worker threads at once: each entry is made once (call_once)
// and immutable afterwards.
#pragma once

#include <memory>
#include <mutex>

#include "rustls/cert_info.h"

namespace mod_tls {

struct VarsCache {
    std::once_flag server_once;
    std::shared_ptr<const tls::CertInfo> server;  // the certificate sent (shared per process)
    std::once_flag client_once;
    std::shared_ptr<const tls::CertInfo> client;  // the peer's end-entity certificate
};

}  // namespace mod_tls
