#include "fuzz_keys.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "tls_bridge.h"

namespace fuzz {

std::string test_data(const std::string &name) { return std::string(MOD_TLS_TEST_DATA) + "/" + name; }

std::string slurp(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "fuzz: cannot read %s\n", path.c_str());
        std::abort();
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

namespace {

struct Keys {
    std::vector<std::unique_ptr<tls::CertifiedKey>> keys;
    std::vector<std::unique_ptr<tls::ServerConfig>> configs;

    Keys() {
        for (const char *stem : {"ecdsa-p256", "rsa", "ed25519"}) {
            const std::string cert = slurp(test_data(std::string(stem) + ".crt"));
            const std::string key = slurp(test_data(std::string(stem) + ".key"));
            auto k = tls::CertifiedKey::from_pem(cert, key);
            if (!k) {
                std::fprintf(stderr, "fuzz: key %s: %s\n", stem, k.error().describe().c_str());
                std::abort();
            }
            keys.push_back(std::make_unique<tls::CertifiedKey>(std::move(k.value())));
        }
        const std::vector<std::vector<uint16_t>> version_sets = {
            {}, {TLSB_TLS13}, {TLSB_TLS12}};
        for (const auto &versions : version_sets) {
            for (const auto &key : keys) {
                tls::ServerConfigParams p;
                p.versions = versions;
                p.keys = {key.get()};
                p.alpn = {"h2", "http/1.1"};
                auto c = tls::ServerConfig::build(p);
                if (!c) {
                    std::fprintf(stderr, "fuzz: config: %s\n", c.error().describe().c_str());
                    std::abort();
                }
                configs.push_back(std::make_unique<tls::ServerConfig>(std::move(c.value())));
            }
        }
    }
};

const Keys &keys() {
    static const Keys k;
    return k;
}

}  // namespace

const tls::ServerConfig &server_config(unsigned index) {
    return *keys().configs[index % keys().configs.size()];
}

unsigned server_config_count() { return static_cast<unsigned>(keys().configs.size()); }

}  // namespace fuzz
