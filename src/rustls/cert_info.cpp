#include "rustls/cert_info.h"

#include "rustls/bytes.h"

namespace tls {

Result<CertInfo> CertInfo::parse(std::span<const uint8_t> der) {
    tlsb_cert_info *raw = nullptr;
    tlsb_error err{};
    tlsb_result rc = tlsb_cert_info_new(der.data(), der.size(), &raw, &err);
    CertInfoHandle handle(raw);
    if (rc != TLSB_OK || !handle) return Error::from_bridge(rc == TLSB_OK ? TLSB_ERR_NULL : rc, err);
    return CertInfo(std::move(handle));
}

std::string_view CertInfo::field(tlsb_cert_field f) const {
    const uint8_t *p = nullptr;
    size_t len = 0;
    if (tlsb_cert_info_field(handle_.get(), f, &p, &len) != TLSB_OK) return {};
    return as_text(p, len);
}

std::vector<DnAttribute> CertInfo::dn(DnKind which) const {
    const auto name = static_cast<uint32_t>(which);
    const size_t count = tlsb_cert_info_dn_count(handle_.get(), name);
    std::vector<DnAttribute> out;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        const char *tag = nullptr;
        const uint8_t *p = nullptr;
        size_t len = 0;
        if (tlsb_cert_info_dn_entry(handle_.get(), name, i, &tag, &p, &len) != TLSB_OK) continue;
        out.push_back({tag != nullptr ? std::string_view(tag) : std::string_view(), as_text(p, len)});
    }
    return out;
}

std::vector<std::string_view> CertInfo::san(SanType type) const {
    const auto t = static_cast<uint32_t>(type);
    const size_t count = tlsb_cert_info_san_count(handle_.get(), t);
    std::vector<std::string_view> out;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        const uint8_t *p = nullptr;
        size_t len = 0;
        if (tlsb_cert_info_san(handle_.get(), t, i, &p, &len) == TLSB_OK) out.push_back(as_text(p, len));
    }
    return out;
}

}  // namespace tls
