// Certificate fields (tls::CertInfo over the bridge) and the SSL_CLIENT_*/SSL_SERVER_* variable
// names (vars/cert_vars.h) against the test certificates. The expected texts are computed here
// with OpenSSL's own printing functions and the flags mod_ssl passes them, so the comparison is
// with what mod_ssl would show for the same certificate; TLSOptions parsing and merging.
#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "config/tls_options.h"
#include "rustls/cert_info.h"
#include "vars/cert_vars.h"

namespace {

const std::string kData = std::string(MOD_TLS_TEST_DATA) + "/";

struct X509Free {
    void operator()(X509 *x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct BioFree {
    void operator()(BIO *b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

X509Ptr read_x509(const std::string &name) {
    BioPtr bio(BIO_new_file((kData + name).c_str(), "r"));
    EXPECT_NE(bio, nullptr) << name;
    return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::vector<uint8_t> der_of(X509 *x) {
    unsigned char *buf = nullptr;
    const int n = i2d_X509(x, &buf);
    std::vector<uint8_t> out(buf, buf + n);
    OPENSSL_free(buf);
    return out;
}

std::string drain(BIO *bio) {
    char *p = nullptr;
    const long n = BIO_get_mem_data(bio, &p);
    return std::string(p, static_cast<size_t>(n));
}

// The texts mod_ssl computes (ssl_engine_vars.c), with the same OpenSSL calls and flags.
std::string openssl_dn(const X509_NAME *name) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    return drain(bio.get());
}
std::string openssl_serial(X509 *x) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    i2a_ASN1_INTEGER(bio.get(), X509_get_serialNumber(x));
    return drain(bio.get());
}
std::string openssl_time(const ASN1_TIME *t) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    ASN1_TIME_print(bio.get(), t);
    return drain(bio.get());
}
std::string openssl_pem(X509 *x) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), x);
    return drain(bio.get());
}
std::string openssl_entry(X509_NAME_ENTRY *e) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    ASN1_STRING_print_ex(bio.get(), X509_NAME_ENTRY_get_data(e),
                         ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT);
    return drain(bio.get());
}

tls::CertInfo parse(const std::vector<uint8_t> &der) {
    auto r = tls::CertInfo::parse(der);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
    return std::move(r.value());
}

class CertInfoTest : public ::testing::TestWithParam<const char *> {};

TEST_P(CertInfoTest, FieldsMatchWhatModSslPrints) {
    X509Ptr x = read_x509(GetParam());
    ASSERT_NE(x, nullptr);
    tls::CertInfo info = parse(der_of(x.get()));
    EXPECT_EQ(info.version(), std::to_string(X509_get_version(x.get()) + 1));
    EXPECT_EQ(info.serial(), openssl_serial(x.get()));
    EXPECT_EQ(info.subject_dn(), openssl_dn(X509_get_subject_name(x.get())));
    EXPECT_EQ(info.issuer_dn(), openssl_dn(X509_get_issuer_name(x.get())));
    EXPECT_EQ(info.not_before(), openssl_time(X509_get0_notBefore(x.get())));
    EXPECT_EQ(info.not_after(), openssl_time(X509_get0_notAfter(x.get())));
    EXPECT_EQ(info.signature_algorithm(),
              OBJ_nid2ln(X509_get_signature_nid(x.get())));
    const ASN1_OBJECT *key_obj = nullptr;
    X509_PUBKEY_get0_param(const_cast<ASN1_OBJECT **>(&key_obj), nullptr, nullptr, nullptr,
                           X509_get_X509_PUBKEY(x.get()));
    EXPECT_EQ(info.key_algorithm(), OBJ_nid2ln(OBJ_obj2nid(key_obj)));
    EXPECT_EQ(info.pem(), openssl_pem(x.get()));

    // Every attribute in certificate order, with the value mod_ssl exports for it.
    X509_NAME *subject = X509_get_subject_name(x.get());
    const auto attrs = info.dn(tls::DnKind::kSubject);
    ASSERT_EQ(attrs.size(), static_cast<size_t>(X509_NAME_entry_count(subject)));
    for (int i = 0; i < X509_NAME_entry_count(subject); ++i)
        EXPECT_EQ(attrs[static_cast<size_t>(i)].value, openssl_entry(X509_NAME_get_entry(subject, i)));
}

INSTANTIATE_TEST_SUITE_P(TestCertificates, CertInfoTest,
                         ::testing::Values("rsa.crt", "ecdsa-p256.crt", "ecdsa-p384.crt",
                                           "ed25519.crt", "chain-leaf.crt", "inter.crt", "ca.crt",
                                           "expired.crt", "rsa1024.crt", "dn-rich.crt",
                                           "dn-edge.crt"));

TEST(CertInfo, RichCertificateVariables) {
    X509Ptr x = read_x509("dn-rich.crt");
    tls::CertInfo info = parse(der_of(x.get()));
    auto var = [&](std::string_view suffix) {
        return mod_tls::cert_variable(info, suffix, 0).value_or("<none>");
    };
    EXPECT_EQ(var("S_DN_CN"), "www.example.test");
    EXPECT_EQ(var("S_DN_OU"), "Web");
    EXPECT_EQ(var("S_DN_OU_0"), "Web");
    EXPECT_EQ(var("S_DN_OU_1"), "Ops");
    EXPECT_EQ(var("S_DN_OU_2"), "<none>");
    EXPECT_EQ(var("S_DN_O"), "Example, Inc.");
    EXPECT_EQ(var("S_DN_ST"), "Baden-Württemberg");
    EXPECT_EQ(var("S_DN_SP"), "Baden-Württemberg");
    EXPECT_EQ(var("S_DN_Email"), "admin@example.test");
    EXPECT_EQ(var("S_DN_UID"), "u42");
    EXPECT_EQ(var("S_DN_T"), "#1 Boss");
    EXPECT_EQ(var("S_DN_CN_RAW"), "www.example.test");
    EXPECT_EQ(var("S_DN_emailAddress"), "<none>");
    EXPECT_EQ(var("I_DN_C"), "DE");
    EXPECT_EQ(var("SAN_DNS_0"), "www.example.test");
    EXPECT_EQ(var("SAN_DNS_1"), "example.test");
    EXPECT_EQ(var("SAN_DNS_2"), "<none>");
    EXPECT_EQ(var("SAN_DNS_"), "<none>");
    EXPECT_EQ(var("SAN_DNS_00001"), "<none>");
    EXPECT_EQ(var("SAN_Email_1"), "ops@example.test");
    EXPECT_EQ(var("M_VERSION"), "3");
    EXPECT_EQ(var("M_SERIAL"), "F1E2D3C4B5A69788");
    EXPECT_EQ(var("A_SIG"), "ecdsa-with-SHA256");
    EXPECT_EQ(var("A_KEY"), "id-ecPublicKey");
    EXPECT_EQ(var("V_START"), "Nov 25 16:24:04 2026 GMT");
    EXPECT_EQ(var("V_END"), "Nov  1 16:24:04 2126 GMT");
    EXPECT_EQ(var("NOPE"), "<none>");
    // notAfter Nov 1 16:24:04 2126 GMT = 4949223844.
    EXPECT_EQ(mod_tls::cert_variable(info, "V_REMAIN", 4949223844 - 3 * 86400).value(), "3");
    EXPECT_EQ(mod_tls::cert_variable(info, "V_REMAIN", 4949223844 + 5).value(), "0");

    std::map<std::string, std::string> env;
    mod_tls::for_each_cert_variable(info, "SSL_CLIENT_", true, 4949223844 - 3 * 86400,
                                    [&](const std::string &k, std::string_view v) {
                                        env[k] = std::string(v);
                                    });
    EXPECT_EQ(env["SSL_CLIENT_S_DN_OU"], "Web");
    EXPECT_EQ(env["SSL_CLIENT_S_DN_OU_1"], "Ops");
    EXPECT_EQ(env.count("SSL_CLIENT_S_DN_OU_0"), 0u);
    EXPECT_EQ(env["SSL_CLIENT_I_DN_Email"], "admin@example.test");
    EXPECT_EQ(env["SSL_CLIENT_SAN_DNS_0"], "www.example.test");
    EXPECT_EQ(env["SSL_CLIENT_SAN_Email_0"], "admin@example.test");
    EXPECT_EQ(env["SSL_CLIENT_V_REMAIN"], "3");
    EXPECT_EQ(env["SSL_CLIENT_S_DN"], info.subject_dn());
    EXPECT_EQ(env.count("SSL_CLIENT_CERT"), 0u);
    std::map<std::string, std::string> server_env;
    mod_tls::for_each_cert_variable(info, "SSL_SERVER_", false, 0,
                                    [&](const std::string &k, std::string_view v) {
                                        server_env[k] = std::string(v);
                                    });
    EXPECT_EQ(server_env.count("SSL_SERVER_V_REMAIN"), 0u);
    EXPECT_EQ(server_env["SSL_SERVER_A_KEY"], "id-ecPublicKey");
}

TEST(CertInfo, MalformedDerIsAnError) {
    const std::vector<uint8_t> junk = {0x30, 0x03, 0x02, 0x01};
    auto r = tls::CertInfo::parse(junk);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), TLSB_ERR_INVALID);
    EXPECT_NE(r.error().message().find("malformed certificate"), std::string::npos);
    EXPECT_FALSE(tls::CertInfo::parse({}).ok());
}

TEST(CertInfo, CipherKeySizes) {
    EXPECT_EQ(tls::cipher_key_bits(0x1301), 128u);
    EXPECT_EQ(tls::cipher_key_bits(0x1302), 256u);
    EXPECT_EQ(tls::cipher_key_bits(0xCCA8), 256u);
    EXPECT_EQ(tls::cipher_key_bits(0x0005), 0u);
}

// ---- TLSOptions ------------------------------------------------------------------------------

mod_tls::TlsOptions apply(mod_tls::TlsOptions o, std::vector<std::string_view> args,
                          std::string *err = nullptr) {
    std::string e = mod_tls::apply_tls_options(o, args);
    if (err != nullptr) *err = e;
    else EXPECT_EQ(e, "");
    return o;
}

TEST(TlsOptions, ParsesLikeSslOptions) {
    using mod_tls::TlsOptions;
    TlsOptions o = apply({}, {"+StdEnvVars"});
    EXPECT_EQ(o.std_env_vars, true);
    EXPECT_FALSE(o.export_cert_data.has_value());  // inherits
    o = apply({}, {"StdEnvVars"});                 // bare: both reset first
    EXPECT_EQ(o.std_env_vars, true);
    EXPECT_EQ(o.export_cert_data, false);
    o = apply({}, {"+StdEnvVars", "ExportCertData"});
    EXPECT_EQ(o.std_env_vars, true);
    EXPECT_EQ(o.export_cert_data, true);
    o = apply(apply({}, {"+StdEnvVars", "+exportcertdata"}), {"-ExportCertData"});
    EXPECT_EQ(o.std_env_vars, true);
    EXPECT_EQ(o.export_cert_data, false);
    o = apply(apply({}, {"+StdEnvVars"}), {"Defaults"});
    EXPECT_EQ(o.std_env_vars, false);
    EXPECT_EQ(o.export_cert_data, false);
    std::string err;
    TlsOptions before = apply({}, {"+StdEnvVars"});
    o = apply(before, {"-StdEnvVars", "+Bogus"}, &err);
    EXPECT_NE(err.find("unknown option '+Bogus'"), std::string::npos) << err;
    EXPECT_EQ(o.std_env_vars, true);  // unchanged on error
    apply({}, {}, &err);
    EXPECT_NE(err.find("at least one option"), std::string::npos);
    apply({}, {"+Defaults"}, &err);
    EXPECT_NE(err.find("Defaults takes no + or -"), std::string::npos);
}

TEST(TlsOptions, InnerScopesOverridePerOption) {
    using mod_tls::TlsOptions;
    const TlsOptions server = apply({}, {"+StdEnvVars"});
    const TlsOptions dir = apply({}, {"+ExportCertData"});
    TlsOptions m = mod_tls::merge_tls_options(server, dir);
    EXPECT_TRUE(m.std_env_vars_on());
    EXPECT_TRUE(m.export_cert_data_on());
    m = mod_tls::merge_tls_options(m, apply({}, {"-StdEnvVars"}));
    EXPECT_FALSE(m.std_env_vars_on());
    EXPECT_TRUE(m.export_cert_data_on());
    m = mod_tls::merge_tls_options(m, apply({}, {"Defaults"}));
    EXPECT_FALSE(m.std_env_vars_on());
    EXPECT_FALSE(m.export_cert_data_on());
    EXPECT_FALSE(TlsOptions{}.std_env_vars_on());
}

}  // namespace
