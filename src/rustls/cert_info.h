// The fields of one certificate as mod_ssl shows them (SSL_{CLIENT,SERVER}_* variables), parsed
// from DER by the bridge. Immutable once made: safe to share between threads.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "rustls/error.h"
#include "rustls/handle.h"

namespace tls {

using CertInfoHandle = BridgeHandle<tlsb_cert_info, tlsb_cert_info_free>;

enum class DnKind : uint32_t { kSubject = TLSB_NAME_SUBJECT, kIssuer = TLSB_NAME_ISSUER };
enum class SanType : uint32_t { kEmail = TLSB_SAN_EMAIL, kDns = TLSB_SAN_DNS };

// One attribute of a DN: mod_ssl's name for it ("CN", "OU", "Email"...; empty when mod_ssl has
// no variable for the attribute) and its value as mod_ssl prints it.
struct DnAttribute {
    std::string_view tag;
    std::string_view value;
};

class CertInfo {
public:
    // Parses one DER certificate; an error for malformed DER.
    static Result<CertInfo> parse(std::span<const uint8_t> der);

    // Every view stays valid as long as this object (they point into the bridge's handle).
    std::string_view version() const { return field(TLSB_CERT_VERSION); }        // "3"
    std::string_view serial() const { return field(TLSB_CERT_SERIAL); }          // "0FAB12"
    std::string_view subject_dn() const { return field(TLSB_CERT_SUBJECT_DN); }  // "CN=a,O=b"
    std::string_view issuer_dn() const { return field(TLSB_CERT_ISSUER_DN); }
    std::string_view not_before() const { return field(TLSB_CERT_NOT_BEFORE); }  // "Nov  5 ... GMT"
    std::string_view not_after() const { return field(TLSB_CERT_NOT_AFTER); }
    std::string_view signature_algorithm() const { return field(TLSB_CERT_SIG_ALG); }
    std::string_view key_algorithm() const { return field(TLSB_CERT_KEY_ALG); }
    std::string_view pem() const { return field(TLSB_CERT_PEM); }

    // The DN's attributes in certificate (ASN.1) order.
    std::vector<DnAttribute> dn(DnKind which) const;
    // subjectAltName entries of one type, in certificate order.
    std::vector<std::string_view> san(SanType type) const;
    // Whole days from `now` (seconds since the epoch) until expiry, as mod_ssl's V_REMAIN.
    int64_t days_remaining(int64_t now) const {
        return tlsb_cert_info_days_remaining(handle_.get(), now);
    }

private:
    explicit CertInfo(CertInfoHandle h) : handle_(std::move(h)) {}
    std::string_view field(tlsb_cert_field f) const;
    CertInfoHandle handle_;
};

// Key bits of a cipher suite's bulk cipher (128 or 256); 0 when unknown.
inline unsigned cipher_key_bits(uint16_t suite) { return tlsb_cipher_suite_key_bits(suite); }

}  // namespace tls
