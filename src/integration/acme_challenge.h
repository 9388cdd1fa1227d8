// ACME tls-alpn-01 (RFC 8737): a CA validates a name by a handshake offering ALPN "acme-tls/1"
// and expects a special self-signed certificate, which mod_md creates and hands out through
// ap_ssl_answer_challenge. Such a connection gets a one-off config with that certificate (the
// one exception to configs built once at startup) and serves no requests.
#pragma once

#include <optional>
#include <string_view>

#include "apache/includes.h"
#include "rustls/server_config.h"

namespace mod_tls {

// ALPN agreed on acme-tls/1 for host s: switches the connection to that protocol (mod_md
// tracks it) and asks for the challenge certificate of `sni`. nullopt when nobody answers (the
// handshake then goes on with the host's own certificate) or the answer is unusable (logged).
std::optional<tls::ServerConfig> acme_challenge_config(conn_rec *c, server_rec *s,
                                                       std::string_view sni);

}  // namespace mod_tls
