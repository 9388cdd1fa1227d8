// Directive argument parsing without Apache: TLSProtocol, TLSCiphersPrefer/Suppress names,
// TLSOptions and TLSEngine addresses (APR's address parser is real). Input: NUL-separated
// arguments; the first byte picks the directive.
#include <apr_general.h>
#include <apr_pools.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/cipher_names.h"
#include "config/engine_address.h"
#include "config/protocol_version.h"
#include "config/tls_options.h"
#include "rustls/connection.h"

namespace {

std::vector<std::string_view> split_args(std::string_view in) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (size_t i = 0; i <= in.size(); ++i) {
        if (i == in.size() || in[i] == '\0') {
            out.push_back(in.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

void check(bool ok) {
    if (!ok) std::abort();  // an invariant of the parser broke: the fuzzer reports a crash
}

apr_pool_t *g_pool = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    apr_initialize();
    apr_pool_create(&g_pool, nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const unsigned which = data[0] % 4;
    const std::string input(reinterpret_cast<const char *>(data + 1), size - 1);
    const std::vector<std::string_view> args = split_args(input);

    switch (which) {
        case 0: {  // TLSProtocol
            for (std::string_view a : args) {
                const auto parsed = mod_tls::parse_protocol_minimum(a);
                check(parsed.ok == parsed.error.empty());
                if (parsed.ok) {
                    check(parsed.version == mod_tls::kTls12 || parsed.version == mod_tls::kTls13);
                    check(!mod_tls::versions_from(parsed.version).empty());
                }
            }
            break;
        }
        case 1: {  // TLSCiphersPrefer / TLSCiphersSuppress
            const std::vector<std::string> names = mod_tls::split_cipher_names(args);
            std::vector<uint16_t> ids;
            for (const std::string &n : names) {
                check(n.find(':') == std::string::npos);
                if (auto id = mod_tls::cipher_suite_id(n)) ids.push_back(*id);
            }
            const auto available = tls::supported_cipher_suites();
            const size_t half = ids.size() / 2;
            const std::vector<uint16_t> preferred(ids.begin(), ids.begin() + static_cast<long>(half));
            const std::vector<uint16_t> suppressed(ids.begin() + static_cast<long>(half), ids.end());
            const auto order = mod_tls::order_cipher_suites(available, preferred, suppressed);
            check(order.size() <= available.size());
            for (uint16_t id : order) {
                check(tls::is_supported_cipher_suite(id));
                for (uint16_t s : suppressed) check(id != s);
            }
            break;
        }
        case 2: {  // TLSOptions
            mod_tls::TlsOptions opts;
            (void)mod_tls::apply_tls_options(opts, args);
            break;
        }
        default: {  // TLSEngine
            apr_pool_t *pool = nullptr;
            apr_pool_create(&pool, g_pool);
            for (std::string_view a : args) {
                const std::string arg(a);
                mod_tls::EngineAddress engine;
                const char *err = mod_tls::parse_engine_address(pool, arg.c_str(), &engine);
                if (err == nullptr) {
                    check(engine.port != 0);
                    apr_sockaddr_t *local = nullptr;
                    if (apr_sockaddr_info_get(&local, "127.0.0.1", APR_INET, engine.port, 0,
                                              pool) == APR_SUCCESS) {
                        (void)mod_tls::engine_matches(engine, local);
                        (void)mod_tls::engine_overlaps(engine, local, false);
                        (void)mod_tls::engine_overlaps(engine, local, true);
                    }
                }
            }
            apr_pool_destroy(pool);
            break;
        }
    }
    return 0;
}
