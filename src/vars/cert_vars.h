// The SSL_CLIENT_* / SSL_SERVER_* certificate variables of one certificate, named and formatted
// as mod_ssl does. Apache-free (header-only, so the unit tests use it directly); the texts come
// from the bridge (tls::CertInfo), this only maps variable names to them.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rustls/cert_info.h"

namespace mod_tls {

namespace cert_vars_detail {

inline std::optional<std::string> text(std::string_view v) {
    if (v.empty()) return std::nullopt;
    return std::string(v);
}

inline bool all_digits(std::string_view s) {
    for (char ch : s) {
        if (ch < '0' || ch > '9') return false;
    }
    return true;
}

// "12" -> 12; "" -> 0 (as mod_ssl's atoi); nullopt when too large.
inline std::optional<size_t> index_of(std::string_view digits) {
    size_t n = 0;
    if (digits.empty()) return n;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return n;
}

// mod_ssl's attribute names (ssl_var_lookup_ssl_cert_dn_rec); "SP" is its alias of "ST".
inline bool is_dn_tag(std::string_view t) {
    for (std::string_view known : {"C", "ST", "L", "O", "OU", "CN", "T", "I", "G", "S", "D", "UID",
                                   "Email"}) {
        if (t == known) return true;
    }
    return false;
}

// "CN", "OU_1", "CN_RAW": the n-th attribute of that name (0-based, certificate order). _RAW
// (mod_ssl: without conversion to UTF-8) gives the converted value, the same for UTF-8 strings.
inline std::optional<std::string> dn_attribute(const tls::CertInfo &cert, tls::DnKind kind,
                                               std::string_view spec) {
    if (const size_t u = spec.rfind('_'); u != std::string_view::npos && u > 0 &&
                                          spec.substr(u + 1) == "RAW")
        spec = spec.substr(0, u);
    std::string_view name = spec;
    size_t wanted = 0;
    if (const size_t u = spec.find('_'); u != std::string_view::npos && all_digits(spec.substr(u + 1))) {
        auto idx = index_of(spec.substr(u + 1));
        if (!idx) return std::nullopt;
        wanted = *idx;
        name = spec.substr(0, u);
    }
    if (name == "SP") name = "ST";
    if (!is_dn_tag(name)) return std::nullopt;
    for (const tls::DnAttribute &a : cert.dn(kind)) {
        if (a.tag == name && wanted-- == 0) return std::string(a.value);
    }
    return std::nullopt;
}

// "DNS_0", "Email_1": 1 to 4 digits, 0-based as mod_ssl.
inline std::optional<std::string> san_entry(const tls::CertInfo &cert, tls::SanType type,
                                            std::string_view digits) {
    if (digits.empty() || digits.size() > 4 || !all_digits(digits)) return std::nullopt;
    const size_t i = index_of(digits).value_or(SIZE_MAX);
    const auto entries = cert.san(type);
    if (i >= entries.size()) return std::nullopt;
    return std::string(entries[i]);
}

}  // namespace cert_vars_detail

// The value of SSL_CLIENT_<suffix> or SSL_SERVER_<suffix> for `cert`, e.g. suffix "S_DN_CN",
// "M_SERIAL", "SAN_DNS_0", "V_REMAIN" (days from `now`, seconds since the epoch), "CERT" (PEM).
// nullopt for unknown names and absent values.
inline std::optional<std::string> cert_variable(const tls::CertInfo &cert, std::string_view suffix,
                                                int64_t now) {
    using namespace cert_vars_detail;
    if (suffix == "M_VERSION") return text(cert.version());
    if (suffix == "M_SERIAL") return text(cert.serial());
    if (suffix == "S_DN") return text(cert.subject_dn());
    if (suffix == "I_DN") return text(cert.issuer_dn());
    if (suffix == "V_START") return text(cert.not_before());
    if (suffix == "V_END") return text(cert.not_after());
    if (suffix == "V_REMAIN") return std::to_string(cert.days_remaining(now));
    if (suffix == "A_SIG") return text(cert.signature_algorithm());
    if (suffix == "A_KEY") return text(cert.key_algorithm());
    if (suffix == "CERT") return text(cert.pem());
    if (suffix.starts_with("S_DN_")) return dn_attribute(cert, tls::DnKind::kSubject, suffix.substr(5));
    if (suffix.starts_with("I_DN_")) return dn_attribute(cert, tls::DnKind::kIssuer, suffix.substr(5));
    if (suffix.starts_with("SAN_DNS_")) return san_entry(cert, tls::SanType::kDns, suffix.substr(8));
    if (suffix.starts_with("SAN_Email_"))
        return san_entry(cert, tls::SanType::kEmail, suffix.substr(10));
    return std::nullopt;
}

// Every variable TLSOptions +StdEnvVars exports for `cert` under `prefix` ("SSL_SERVER_" or
// "SSL_CLIENT_"), as add(name, value): M_VERSION, M_SERIAL, V_START, V_END, V_REMAIN (client),
// S_DN, I_DN, A_KEY, A_SIG; S_DN_<attr> / I_DN_<attr> with _1, _2... for repeated attributes (as
// mod_ssl's StdEnvVars); SAN_DNS_n and SAN_Email_n from 0. Empty values are left out.
template <class Add>
void for_each_cert_variable(const tls::CertInfo &cert, std::string_view prefix, bool client,
                            int64_t now, Add &&add) {
    const std::string p(prefix);
    auto put = [&](const std::string &name, std::string_view value) {
        if (!value.empty()) add(name, value);
    };
    put(p + "M_VERSION", cert.version());
    put(p + "M_SERIAL", cert.serial());
    put(p + "V_START", cert.not_before());
    put(p + "V_END", cert.not_after());
    if (client) put(p + "V_REMAIN", std::to_string(cert.days_remaining(now)));
    put(p + "S_DN", cert.subject_dn());
    put(p + "I_DN", cert.issuer_dn());
    put(p + "A_KEY", cert.key_algorithm());
    put(p + "A_SIG", cert.signature_algorithm());
    for (auto [kind, part] : {std::pair{tls::DnKind::kSubject, "S_DN_"},
                              std::pair{tls::DnKind::kIssuer, "I_DN_"}}) {
        const auto attrs = cert.dn(kind);
        for (size_t i = 0; i < attrs.size(); ++i) {
            if (attrs[i].tag.empty()) continue;
            size_t seen = 0;
            for (size_t j = 0; j < i; ++j) seen += attrs[j].tag == attrs[i].tag ? 1u : 0u;
            std::string name = p + part + std::string(attrs[i].tag);
            if (seen > 0) name += "_" + std::to_string(seen);
            put(name, attrs[i].value);
        }
    }
    for (auto [type, part] : {std::pair{tls::SanType::kDns, "SAN_DNS_"},
                              std::pair{tls::SanType::kEmail, "SAN_Email_"}}) {
        const auto entries = cert.san(type);
        for (size_t i = 0; i < entries.size(); ++i)
            put(p + part + std::to_string(i), entries[i]);
    }
}

}  // namespace mod_tls
