// TLSOptions [+|-]option... — the per-directory options of the SSL_* environment. Apache-free
// (header-only, so the unit tests use it directly).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mod_tls {

// What one scope (server, vhost, <Directory>/<Location>/.htaccess) said; unset options inherit.
struct TlsOptions {
    std::optional<bool> std_env_vars;      // StdEnvVars: the SSL_* variables in CGI/SSI env
    std::optional<bool> export_cert_data;  // ExportCertData: plus the PEM certificates

    bool std_env_vars_on() const { return std_env_vars.value_or(false); }
    bool export_cert_data_on() const { return export_cert_data.value_or(false); }
};

namespace tls_options_detail {
inline bool same_word(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}
}  // namespace tls_options_detail

// Applies one TLSOptions line to `opts`. An argument without + or - resets both options to off
// first (as SSLOptions); `Defaults` sets both off; +Name / -Name / Name switch one option.
// Option names are case-insensitive. Returns an error message, or empty.
inline std::string apply_tls_options(TlsOptions &opts, std::span<const std::string_view> args) {
    using tls_options_detail::same_word;
    if (args.empty())
        return "needs at least one option: StdEnvVars, ExportCertData, Defaults (with + or -)";
    TlsOptions next = opts;
    for (std::string_view a : args) {
        if (a.empty() || (a[0] != '+' && a[0] != '-')) {
            next.std_env_vars = false;
            next.export_cert_data = false;
            break;
        }
    }
    for (std::string_view a : args) {
        bool on = true;
        std::string_view name = a;
        if (!name.empty() && (name[0] == '+' || name[0] == '-')) {
            on = name[0] == '+';
            name.remove_prefix(1);
            if (same_word(name, "Defaults")) {
                return "'" + std::string(a) + "': Defaults takes no + or -; write Defaults";
            }
        }
        if (same_word(name, "Defaults")) {
            next.std_env_vars = false;
            next.export_cert_data = false;
        } else if (same_word(name, "StdEnvVars")) {
            next.std_env_vars = on;
        } else if (same_word(name, "ExportCertData")) {
            next.export_cert_data = on;
        } else {
            return "unknown option '" + std::string(a) +
                   "'; known: StdEnvVars, ExportCertData, Defaults (with + or -)";
        }
    }
    opts = next;
    return {};
}

// An inner scope's options over an outer one's, option by option.
inline TlsOptions merge_tls_options(const TlsOptions &outer, const TlsOptions &inner) {
    TlsOptions out;
    out.std_env_vars = inner.std_env_vars ? inner.std_env_vars : outer.std_env_vars;
    out.export_cert_data = inner.export_cert_data ? inner.export_cert_data : outer.export_cert_data;
    return out;
}

}  // namespace mod_tls
