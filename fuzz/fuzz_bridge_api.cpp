// The bridge's C ABI driven by arbitrary call sequences and bytes: up to four connections at
// once, TLS bytes from the input (seeds hold real ClientHellos), every accessor, NULL and
// out-of-range arguments, certificates/keys/configs built from arbitrary bytes. Whatever the
// order of calls, the bridge must answer with a result code: no crash, no panic escaping
// (a caught panic would be TLSB_ERR_PANIC, which this target treats as a finding).
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_keys.h"
#include "input_reader.h"
#include "tls_bridge.h"

namespace {

struct ConnFree { void operator()(tlsb_conn *c) const { tlsb_conn_free(c); } };
using Conn = std::unique_ptr<tlsb_conn, ConnFree>;

void expect_no_panic(tlsb_result rc, const char *call) {
    if (rc == TLSB_ERR_PANIC) {
        std::fprintf(stderr, "fuzz: %s returned TLSB_ERR_PANIC\n", call);
        std::abort();
    }
}

// Touch every byte of a span the bridge handed out (ASan checks it is readable).
unsigned touch(const uint8_t *p, size_t n) {
    unsigned sum = 0;
    for (size_t i = 0; p != nullptr && i < n; ++i) sum += p[i];
    return sum;
}

volatile unsigned g_sink;

// The ctx of tls_sink: refuses batch number refuse_at (0-based; -1 never), sums what it took.
struct SinkState {
    long refuse_at = -1;
    long batches = 0;
    size_t accepted = 0;
};

// A tlsb_tls_sink checking what the bridge lends: 1..TLSB_SEND_BATCH_MAX slices, none with a
// NULL pointer, every byte readable (ASan). Must not unwind: a broken promise aborts.
int tls_sink(void *ctx, const tlsb_slice *batch, size_t count) {
    auto *st = static_cast<SinkState *>(ctx);
    if (batch == nullptr || count == 0 || count > TLSB_SEND_BATCH_MAX) {
        std::fprintf(stderr, "fuzz: send_tls lent a batch of %zu slices at %p\n", count,
                     static_cast<const void *>(batch));
        std::abort();
    }
    size_t len = 0;
    for (size_t i = 0; i < count; ++i) {
        if (batch[i].data == nullptr) {
            std::fprintf(stderr, "fuzz: send_tls lent a slice with a NULL pointer\n");
            std::abort();
        }
        g_sink = touch(batch[i].data, batch[i].len);
        len += batch[i].len;
    }
    if (st->batches++ == st->refuse_at) return 0;
    st->accepted += len;
    return 1;
}

// send_tls into tls_sink; on TLSB_OK *sent must equal what the sink accepted.
tlsb_result send_tls(tlsb_conn *c, long refuse_at, tlsb_error *err) {
    SinkState st;
    st.refuse_at = refuse_at;
    size_t sent = 0;
    const tlsb_result rc = tlsb_conn_send_tls(c, tls_sink, &st, &sent, err);
    expect_no_panic(rc, "send_tls");
    if (rc == TLSB_OK && sent != st.accepted) {
        std::fprintf(stderr, "fuzz: send_tls reported %zu bytes sent, the sink took %zu\n", sent,
                     st.accepted);
        std::abort();
    }
    if (rc == TLSB_ERR_IO && refuse_at < 0) {
        std::fprintf(stderr, "fuzz: send_tls failed with TLSB_ERR_IO, the sink refused nothing\n");
        std::abort();
    }
    return rc;
}

void hello_accessors(const tlsb_conn *c) {
    const uint8_t *p = nullptr;
    size_t n = 0;
    if (tlsb_conn_hello_sni(c, &p, &n) == TLSB_OK) g_sink = touch(p, n);
    const size_t count = tlsb_conn_hello_alpn_count(c);
    for (size_t i = 0; i <= count; ++i) {  // one past the end on purpose
        if (tlsb_conn_hello_alpn(c, i, &p, &n) == TLSB_OK) g_sink = touch(p, n);
    }
    const uint16_t *ids = nullptr;
    if (tlsb_conn_hello_signature_schemes(c, &ids, &n) == TLSB_OK)
        g_sink = touch(reinterpret_cast<const uint8_t *>(ids), n * 2);
    if (tlsb_conn_hello_cipher_suites(c, &ids, &n) == TLSB_OK)
        g_sink = touch(reinterpret_cast<const uint8_t *>(ids), n * 2);
}

void negotiated_accessors(const tlsb_conn *c) {
    const uint8_t *p = nullptr;
    size_t n = 0;
    g_sink = tlsb_conn_protocol_version(c) + tlsb_conn_cipher_suite(c);
    g_sink = static_cast<unsigned>(tlsb_conn_is_handshaking(c) + tlsb_conn_wants_write(c) +
                                   tlsb_conn_is_resumed(c));
    if (tlsb_conn_alpn(c, &p, &n) == TLSB_OK) g_sink = touch(p, n);
    if (tlsb_conn_sni(c, &p, &n) == TLSB_OK) g_sink = touch(p, n);
    for (size_t i = 0; i <= tlsb_conn_peer_cert_count(c); ++i)
        if (tlsb_conn_peer_cert(c, i, &p, &n) == TLSB_OK) g_sink = touch(p, n);
    for (size_t i = 0; i <= tlsb_conn_server_cert_count(c); ++i)
        if (tlsb_conn_server_cert(c, i, &p, &n) == TLSB_OK) g_sink = touch(p, n);
}

void cert_info(std::span<const uint8_t> der, int64_t now) {
    tlsb_cert_info *info = nullptr;
    tlsb_error err{};
    expect_no_panic(tlsb_cert_info_new(der.data(), der.size(), &info, &err), "cert_info_new");
    if (info == nullptr) return;
    const uint8_t *p = nullptr;
    size_t n = 0;
    for (uint32_t f = 0; f <= TLSB_CERT_PEM + 1; ++f)
        if (tlsb_cert_info_field(info, f, &p, &n) == TLSB_OK) g_sink = touch(p, n);
    for (uint32_t which : {TLSB_NAME_SUBJECT, TLSB_NAME_ISSUER, 7u}) {
        for (size_t i = 0; i <= tlsb_cert_info_dn_count(info, which); ++i) {
            const char *tag = nullptr;
            if (tlsb_cert_info_dn_entry(info, which, i, &tag, &p, &n) == TLSB_OK)
                g_sink = touch(p, n) + static_cast<unsigned>(std::strlen(tag));
        }
    }
    for (uint32_t type : {TLSB_SAN_EMAIL, TLSB_SAN_DNS, 0u}) {
        for (size_t i = 0; i <= tlsb_cert_info_san_count(info, type); ++i)
            if (tlsb_cert_info_san(info, type, i, &p, &n) == TLSB_OK) g_sink = touch(p, n);
    }
    g_sink = static_cast<unsigned>(tlsb_cert_info_days_remaining(info, now));
    tlsb_cert_info_free(info);
}

void certified_key(fuzz::InputReader &in) {
    const auto cert = in.blob();
    const bool same = in.flag();
    const auto key = same ? cert : in.blob();
    tlsb_certified_key *k = nullptr;
    tlsb_error err{};
    expect_no_panic(tlsb_certified_key_new(cert.data(), cert.size(), key.data(), key.size(), &k,
                                           &err),
                    "certified_key_new");
    if (k == nullptr) return;
    for (size_t i = 0; i <= tlsb_certified_key_chain_len(k); ++i) {
        const uint8_t *p = nullptr;
        size_t n = 0;
        if (tlsb_certified_key_chain_der(k, i, &p, &n) == TLSB_OK) g_sink = touch(p, n);
    }
    g_sink = static_cast<unsigned>(std::strlen(tlsb_certified_key_algorithm(k)));
    tlsb_certified_key_free(k);
}

// A config from arbitrary parameters over the fixed test keys.
void server_config(fuzz::InputReader &in, const std::array<const tlsb_certified_key *, 3> &keys) {
    std::vector<uint16_t> versions(in.u8() % 4), suites(in.u8() % 8);
    for (auto &v : versions) v = in.flag() ? static_cast<uint16_t>(0x0303 + in.u8() % 3) : in.u16();
    for (auto &s : suites) s = in.u16();
    std::vector<const tlsb_certified_key *> chosen(in.u8() % 4);
    for (auto &k : chosen) k = keys[in.u8() % keys.size()];
    std::vector<std::vector<uint8_t>> alpn_store(in.u8() % 4);
    std::vector<const uint8_t *> alpn;
    std::vector<size_t> alpn_lens;
    for (auto &a : alpn_store) {
        auto b = in.bytes(in.u8() % 300);
        a.assign(b.begin(), b.end());
        alpn.push_back(a.data());
        alpn_lens.push_back(a.size());
    }
    tlsb_server_config_params p{};
    p.versions = versions.data();
    p.versions_len = versions.size();
    p.suites = suites.data();
    p.suites_len = suites.size();
    p.keys = chosen.data();
    p.keys_len = chosen.size();
    p.honor_client_order = in.flag();
    p.alpn = alpn.data();
    p.alpn_lens = alpn_lens.data();
    p.alpn_len = alpn.size();
    tlsb_server_config *cfg = nullptr;
    tlsb_error err{};
    expect_no_panic(tlsb_server_config_new(&p, &cfg, &err), "server_config_new");
    tlsb_server_config_free(cfg);
}

void null_arguments() {
    tlsb_error err{};
    size_t n = 0;
    const uint8_t *p = nullptr;
    uint8_t buf[16] = {};
    tlsb_conn *c = nullptr;
    expect_no_panic(tlsb_conn_new_server(nullptr), "new_server(NULL)");
    expect_no_panic(tlsb_conn_read_tls(nullptr, buf, sizeof buf, &n, &err), "read_tls(NULL)");
    expect_no_panic(tlsb_conn_process(nullptr, nullptr), "process(NULL)");
    SinkState st;
    expect_no_panic(tlsb_conn_send_tls(nullptr, tls_sink, &st, &n, nullptr), "send_tls(NULL)");
    expect_no_panic(tlsb_conn_read_plain(nullptr, buf, sizeof buf, &n, nullptr), "read_plain");
    expect_no_panic(tlsb_conn_write_plain(nullptr, buf, sizeof buf, &n, nullptr), "write_plain");
    expect_no_panic(tlsb_conn_select_config(nullptr, nullptr, nullptr, 0, nullptr), "select");
    expect_no_panic(tlsb_conn_reject(nullptr, 112, nullptr), "reject(NULL)");
    expect_no_panic(tlsb_conn_send_close_notify(nullptr), "close_notify(NULL)");
    expect_no_panic(tlsb_conn_hello_sni(nullptr, &p, &n), "hello_sni(NULL)");
    expect_no_panic(tlsb_cert_info_new(nullptr, 0, nullptr, nullptr), "cert_info_new(NULL)");
    expect_no_panic(tlsb_certified_key_new(nullptr, 0, nullptr, 0, nullptr, nullptr), "ck_new");
    expect_no_panic(tlsb_server_config_new(nullptr, nullptr, nullptr), "config_new(NULL)");
    expect_no_panic(tlsb_supported_cipher_suites(nullptr, nullptr), "suites(NULL)");
    if (tlsb_conn_new_server(&c) == TLSB_OK) {
        expect_no_panic(tlsb_conn_read_tls(c, nullptr, 5, &n, &err), "read_tls(buf NULL)");
        expect_no_panic(tlsb_conn_read_tls(c, buf, sizeof buf, nullptr, &err), "read_tls(n NULL)");
        expect_no_panic(tlsb_conn_send_tls(c, nullptr, &st, &n, &err), "send_tls(sink NULL)");
        expect_no_panic(tlsb_conn_send_tls(c, tls_sink, &st, nullptr, &err), "send_tls(sent NULL)");
        if (st.batches != 0) std::abort();  // no batch lent on a NULL argument
        expect_no_panic(tlsb_conn_hello_sni(c, nullptr, nullptr), "hello_sni(out NULL)");
        expect_no_panic(tlsb_conn_alpn(c, nullptr, &n), "alpn(out NULL)");
        tlsb_conn_free(c);
    }
    tlsb_conn_free(nullptr);
    tlsb_cert_info_free(nullptr);
    tlsb_certified_key_free(nullptr);
    tlsb_server_config_free(nullptr);
}

// A plain array, not a vector: the keys live until exit and stay reachable for LeakSanitizer.
std::array<const tlsb_certified_key *, 3> g_keys{};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    for (unsigned i = 0; i < fuzz::server_config_count(); ++i) (void)fuzz::server_config(i);
    size_t i = 0;
    for (const char *stem : {"ecdsa-p256", "rsa", "ed25519"}) {
        const std::string cert = fuzz::slurp(fuzz::test_data(std::string(stem) + ".crt"));
        const std::string key = fuzz::slurp(fuzz::test_data(std::string(stem) + ".key"));
        tlsb_certified_key *k = nullptr;
        if (tlsb_certified_key_new(reinterpret_cast<const uint8_t *>(cert.data()), cert.size(),
                                   reinterpret_cast<const uint8_t *>(key.data()), key.size(), &k,
                                   nullptr) != TLSB_OK)
            std::abort();
        g_keys[i++] = k;  // lives for the whole run
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::InputReader in(data, size);
    std::array<Conn, 4> conns;
    std::vector<uint8_t> buf;
    for (unsigned steps = 0; !in.done() && steps < 256; ++steps) {
        const uint8_t op = in.u8();
        Conn &conn = conns[(op >> 5) % conns.size()];
        tlsb_conn *c = conn.get();
        tlsb_error err{};
        size_t n = 0;
        switch (op & 0x1f) {
            case 0: {
                tlsb_conn *fresh = nullptr;
                expect_no_panic(tlsb_conn_new_server(&fresh), "new_server");
                conn.reset(fresh);
                break;
            }
            case 1: conn.reset(); break;
            case 2: {  // TLS bytes from the peer (length-prefixed), possibly EOF (empty)
                const auto bytes = in.blob();
                expect_no_panic(tlsb_conn_read_tls(c, bytes.data(), bytes.size(), &n, &err),
                                "read_tls");
                if (n > bytes.size()) std::abort();
                break;
            }
            case 3: expect_no_panic(tlsb_conn_process(c, &err), "process"); break;
            case 4: hello_accessors(c); break;
            case 5: {
                static const char *const kAlpn[] = {"", "h2", "http/1.1", "spdy/3"};
                const unsigned cfg = in.u8();
                const char *alpn = kAlpn[in.u8() % 4];
                expect_no_panic(tlsb_conn_select_config(
                                    c, in.flag() ? nullptr : fuzz::server_config(cfg).get(),
                                    reinterpret_cast<const uint8_t *>(alpn), std::strlen(alpn),
                                    &err),
                                "select_config");
                break;
            }
            case 6: expect_no_panic(tlsb_conn_reject(c, in.u16(), &err), "reject"); break;
            case 7: {  // send_tls(u16): v % 8 == 0 accepts all, else refuses batch v % 8 - 1
                const long v = in.u16() % 8;
                send_tls(c, v - 1, &err);
                break;
            }
            case 8: {
                buf.resize(in.u16() % 20000);
                expect_no_panic(tlsb_conn_read_plain(c, buf.data(), buf.size(), &n, &err),
                                "read_plain");
                if (n > buf.size()) std::abort();
                break;
            }
            case 9: {
                const auto bytes = in.blob();
                expect_no_panic(tlsb_conn_write_plain(c, bytes.data(), bytes.size(), &n, &err),
                                "write_plain");
                break;
            }
            case 10: expect_no_panic(tlsb_conn_send_close_notify(c), "close_notify"); break;
            case 11: negotiated_accessors(c); break;
            case 12: {
                const auto der = in.blob();
                cert_info(der, static_cast<int64_t>(in.u16()) * 100000);
                break;
            }
            case 13: certified_key(in); break;
            case 14: server_config(in, g_keys); break;
            case 15: {
                const uint16_t v = in.u16();
                g_sink = static_cast<unsigned>(
                    std::strlen(tlsb_result_name(v)) + std::strlen(tlsb_alert_name(v)) +
                    std::strlen(tlsb_cipher_suite_name(v)) +
                    std::strlen(tlsb_protocol_version_name(v)) + tlsb_cipher_suite_key_bits(v));
                break;
            }
            case 16: null_arguments(); break;
            default: {  // drive connection c until it is quiet: process, then drain both ways
                expect_no_panic(tlsb_conn_process(c, &err), "process");
                buf.resize(17000);
                for (int i = 0; i < 8 && tlsb_conn_wants_write(c); ++i)
                    if (send_tls(c, -1, &err) != TLSB_OK) break;
                expect_no_panic(tlsb_conn_read_plain(c, buf.data(), buf.size(), &n, &err),
                                "read_plain");
                break;
            }
        }
    }
    return 0;
}
