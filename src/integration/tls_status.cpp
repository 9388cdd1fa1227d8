#include "integration/tls_status.h"

#include <apr_shm.h>
#include <mod_status.h>

#include <array>
#include <atomic>
#include <new>
#include <string>

#include "rustls/connection.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

using Counter = std::atomic<uint64_t>;
static_assert(Counter::is_always_lock_free, "counters live in shared memory across processes");

// The ALPN values counted one by one; anything else is "other".
constexpr std::array<std::string_view, 4> kAlpnNames = {"none", "http/1.1", "h2", "acme-tls/1"};
constexpr std::array<std::string_view, 4> kOwnReasons = {"plain_http", "eof", "timeout",
                                                          "io_error"};
constexpr size_t kMaxSuites = 16;
constexpr size_t kMaxGroups = 8;

struct Counters {
    Counter completed;
    Counter failed;
    Counter resumed;
    Counter tls12;
    Counter tls13;
    std::array<Counter, kMaxSuites> suites;      // by position in rustls's suite list
    std::array<Counter, kMaxGroups + 1> groups;  // by position in the bridge's list; last: none
    std::array<Counter, kAlpnNames.size() + 1> alpn;  // last: other
    std::array<Counter, kOwnReasons.size()> own_reasons;
    std::array<Counter, 256> alerts_sent;
    std::array<Counter, 256> alerts_received;
};

Counters *g_counters = nullptr;  // in shared memory; set in the parent before the children fork

void bump(Counter &c) { c.fetch_add(1, std::memory_order_relaxed); }

apr_status_t forget_counters(void *) {
    g_counters = nullptr;
    return APR_SUCCESS;
}

}  // namespace

int create_status_counters(apr_pool_t *pconf, apr_pool_t *, apr_pool_t *, server_rec *s) {
    g_counters = nullptr;
    apr_shm_t *shm = nullptr;
    apr_status_t rv = apr_shm_create(&shm, sizeof(Counters), nullptr, pconf);
    if (rv != APR_SUCCESS) {
        // Serving matters more than statistics: go on without them.
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "TLS: cannot create shared memory for server-status counters");
        return OK;
    }
    // Shared memory is zeroed; placement-new gives the atomics their lifetime (trivial dtor).
    g_counters = new (apr_shm_baseaddr_get(shm)) Counters{};
    apr_pool_cleanup_register(pconf, nullptr, forget_counters, apr_pool_cleanup_null);
    return OK;
}

void count_handshake(uint16_t version, uint16_t suite, uint16_t group, std::string_view alpn,
                     bool resumed) {
    if (g_counters == nullptr) return;
    bump(g_counters->completed);
    if (resumed) bump(g_counters->resumed);
    if (version == TLSB_TLS13) bump(g_counters->tls13);
    if (version == TLSB_TLS12) bump(g_counters->tls12);
    const auto suites = tls::supported_cipher_suites();
    for (size_t i = 0; i < suites.size() && i < kMaxSuites; ++i) {
        if (suites[i] == suite) bump(g_counters->suites[i]);
    }
    const auto groups = tls::supported_kx_groups();
    size_t g = 0;
    while (g < groups.size() && g < kMaxGroups && groups[g] != group) ++g;
    bump(g_counters->groups[g < groups.size() && g < kMaxGroups ? g : kMaxGroups]);
    size_t a = 0;
    const std::string_view key = alpn.empty() ? "none" : alpn;
    while (a < kAlpnNames.size() && kAlpnNames[a] != key) ++a;
    bump(g_counters->alpn[a]);
}

std::string failure_reason(const tls::Error &error) {
    if (error.code() == TLSB_ERR_IO)
        return error.message().starts_with("timed out") ? "timeout" : "io_error";
    if (error.message().starts_with("the client spoke plain HTTP")) return "plain_http";
    if (error.alert_sent() != tls::Error::kNoAlert)
        return std::string(tls::alert_name(error.alert_sent()));
    if (error.alert_received() != tls::Error::kNoAlert)
        return "peer_" + std::string(tls::alert_name(error.alert_received()));
    return "eof";
}

void count_failure(const tls::Error &error) {
    if (g_counters == nullptr) return;
    bump(g_counters->failed);
    const std::string reason = failure_reason(error);
    for (size_t i = 0; i < kOwnReasons.size(); ++i) {
        if (reason == kOwnReasons[i]) {
            bump(g_counters->own_reasons[i]);
            return;
        }
    }
    if (error.alert_sent() != tls::Error::kNoAlert)
        bump(g_counters->alerts_sent[error.alert_sent() & 0xFFu]);
    else if (error.alert_received() != tls::Error::kNoAlert)
        bump(g_counters->alerts_received[error.alert_received() & 0xFFu]);
}

namespace {

// One "Key: value" line (?auto) or table row (HTML).
void emit(request_rec *r, bool short_form, const std::string &key, uint64_t value) {
    if (short_form) {
        ap_rprintf(r, "%s: %" APR_UINT64_T_FMT "\n", key.c_str(), static_cast<apr_uint64_t>(value));
    } else {
        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   ap_escape_html(r->pool, key.c_str()), static_cast<apr_uint64_t>(value));
    }
}

uint64_t load(const Counter &c) { return c.load(std::memory_order_relaxed); }

}  // namespace

int show_status(request_rec *r, int flags) {
    if (g_counters == nullptr) return OK;
    const Counters &k = *g_counters;
    const bool short_form = (flags & AP_STATUS_SHORT) != 0;
    if (!short_form) ap_rputs("<hr>\n<h2>TLS (mod_tls)</h2>\n<table>\n", r);

    emit(r, short_form, "TLSHandshakesCompleted", load(k.completed));
    emit(r, short_form, "TLSHandshakesFailed", load(k.failed));
    emit(r, short_form, "TLSHandshakesResumed", load(k.resumed));
    emit(r, short_form, "TLSProtocol_TLSv1.2", load(k.tls12));
    emit(r, short_form, "TLSProtocol_TLSv1.3", load(k.tls13));
    const auto suites = tls::supported_cipher_suites();
    for (size_t i = 0; i < suites.size() && i < kMaxSuites; ++i) {
        emit(r, short_form, "TLSCipher_" + std::string(tls::cipher_suite_name(suites[i])),
             load(k.suites[i]));
    }
    // Key exchanges by group (none: a TLS 1.2 resumption makes no new key exchange), so the
    // share of post-quantum (X25519MLKEM768) handshakes shows.
    const auto groups = tls::supported_kx_groups();
    for (size_t g = 0; g < groups.size() && g < kMaxGroups; ++g) {
        emit(r, short_form, "TLSKeyExchange_" + std::string(tls::kx_group_name(groups[g])),
             load(k.groups[g]));
    }
    emit(r, short_form, "TLSKeyExchange_none", load(k.groups[kMaxGroups]));
    for (size_t i = 0; i < kAlpnNames.size(); ++i)
        emit(r, short_form, "TLSALPN_" + std::string(kAlpnNames[i]), load(k.alpn[i]));
    emit(r, short_form, "TLSALPN_other", load(k.alpn[kAlpnNames.size()]));
    for (size_t i = 0; i < kOwnReasons.size(); ++i)
        emit(r, short_form, "TLSFailure_" + std::string(kOwnReasons[i]), load(k.own_reasons[i]));
    for (uint16_t alert = 0; alert < 256; ++alert) {
        if (const uint64_t n = load(k.alerts_sent[alert]); n > 0)
            emit(r, short_form, "TLSFailure_" + std::string(tls::alert_name(alert)), n);
        if (const uint64_t n = load(k.alerts_received[alert]); n > 0)
            emit(r, short_form, "TLSFailure_peer_" + std::string(tls::alert_name(alert)), n);
    }
    if (!short_form) ap_rputs("</table>\n", r);
    return OK;
}

}  // namespace mod_tls
