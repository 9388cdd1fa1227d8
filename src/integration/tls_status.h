// Handshake counters shared by all worker processes, shown on mod_status's server-status page
// (a "TLS (mod_tls)" section, and "TLS...: n" lines in its ?auto form).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "apache/includes.h"
#include "rustls/error.h"

namespace mod_tls {

// post_config hook (parent): creates the shared counters (anonymous shared memory, inherited by
// the children); they start from zero with each configuration load.
int create_status_counters(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

void count_handshake(uint16_t version, uint16_t suite, uint16_t group, std::string_view alpn,
                     bool resumed);
void count_failure(const tls::Error &error);

// The key a failure is counted and reported under, e.g. "plain_http", "eof", "timeout",
// "unrecognized_name" (the alert sent) or "peer_bad_certificate" (the alert received).
std::string failure_reason(const tls::Error &error);

// mod_status's status_hook.
int show_status(request_rec *r, int flags);

}  // namespace mod_tls
