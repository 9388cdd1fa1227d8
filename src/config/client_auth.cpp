#include "config/client_auth.h"

#include <strings.h>

#include <span>

#include "apache/file_bytes.h"
#include "config/server_config.h"
#include "config/directive_error.h"

namespace mod_tls {

namespace {


int64_t now_seconds() { return static_cast<int64_t>(apr_time_sec(apr_time_now())); }

}  // namespace

ClientAuthConfig merge_client_auth(const ClientAuthConfig &base, const ClientAuthConfig &add) {
    ClientAuthConfig out;
    out.ca_path = add.ca_path ? add.ca_path : base.ca_path;
    out.ca_site = add.ca_path ? add.ca_site : base.ca_site;
    out.mode = add.mode ? add.mode : base.mode;
    out.mode_site = add.mode ? add.mode_site : base.mode_site;
    out.user_name = add.user_name ? add.user_name : base.user_name;
    out.crls = add.crls.empty() ? base.crls : add.crls;
    return out;
}

// TLSClientCA file — read and checked now, so a bad file is reported at its directive.
const char *set_client_ca(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    const std::string path = ap_server_root_relative(cmd->pool, arg);
    FileBytes pem = read_file_bytes(cmd->temp_pool, path.c_str());
    if (!pem.ok) return directive_error(cmd, pem.error + "; check the CA file's path");
    auto checked = tls::ClientVerifier::create(tls::ClientAuthMode::kOptional,
                                               std::span<const char>(pem.data));
    if (!checked) {
        return directive_error(cmd, "'" + path + "': " + checked.error().message() +
                              "; give a PEM file with the CA certificate(s) that issue client "
                              "certificates");
    }
    ClientAuthConfig &ca = server_config(cmd->server)->client_auth;
    ca.ca_path = path;
    ca.ca_site = site_of(cmd);
    return nullptr;
}

// TLSClientCertificate required|optional|none
const char *set_client_certificate(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    ClientCertMode mode;
    if (strcasecmp(arg, "required") == 0) {
        mode = ClientCertMode::kRequired;
    } else if (strcasecmp(arg, "optional") == 0) {
        mode = ClientCertMode::kOptional;
    } else if (strcasecmp(arg, "none") == 0) {
        mode = ClientCertMode::kNone;
    } else {
        return directive_error(cmd, std::string("'") + arg + "' is not a mode; write required, optional or none");
    }
    ClientAuthConfig &ca = server_config(cmd->server)->client_auth;
    ca.mode = mode;
    ca.mode_site = site_of(cmd);
    return nullptr;
}

// TLSUserName variable — which SSL_* variable becomes the request's user.
const char *set_user_name(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    if (*arg == '\0') return directive_error(cmd, "give a variable name, e.g. SSL_CLIENT_S_DN_CN");
    server_config(cmd->server)->client_auth.user_name = std::string(arg);
    return nullptr;
}

// TLSClientCRL file — repeatable; the contents are checked against TLSClientCA at post_config.
const char *add_client_crl(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    const std::string path = ap_server_root_relative(cmd->pool, arg);
    FileBytes probe = read_file_bytes(cmd->temp_pool, path.c_str(), 64u << 20);
    if (!probe.ok) return directive_error(cmd, probe.error + "; check the CRL file's path");
    server_config(cmd->server)->client_auth.crls.push_back({path, site_of(cmd)});
    return nullptr;
}

std::string compile_client_auth(apr_pool_t *ptemp, const ClientAuthConfig &conf,
                                const std::string &host, CompiledClientAuth &out) {
    out.mode = conf.mode.value_or(ClientCertMode::kNone);
    out.user_name = conf.user_name.value_or("");
    if (out.mode == ClientCertMode::kNone) {
        out.identity = "none";
        return {};
    }
    const char *mode_word = out.mode == ClientCertMode::kRequired ? "required" : "optional";
    if (!conf.ca_path) {
        return "TLSClientCertificate " + std::string(mode_word) + " at " +
               conf.mode_site.describe() + " applies to " + host +
               ", which has no TLSClientCA; add 'TLSClientCA ca.pem' (the CA certificates that "
               "issue client certificates) to that host or the main server";
    }
    FileBytes pem = read_file_bytes(ptemp, conf.ca_path->c_str());
    if (!pem.ok) return "TLSClientCA at " + conf.ca_site.describe() + ": " + pem.error;
    auto verifier = tls::ClientVerifier::create(
        out.mode == ClientCertMode::kRequired ? tls::ClientAuthMode::kRequired
                                              : tls::ClientAuthMode::kOptional,
        std::span<const char>(pem.data));
    if (!verifier) {
        return "TLSClientCA '" + *conf.ca_path + "' at " + conf.ca_site.describe() + ": " +
               verifier.error().message();
    }
    out.identity = std::string(mode_word) + "|" + *conf.ca_path;
    for (const ClientCrlFile &crl : conf.crls) {
        FileBytes data = read_file_bytes(ptemp, crl.path.c_str(), 64u << 20);
        if (!data.ok) return "TLSClientCRL at " + crl.site.describe() + ": " + data.error;
        auto added = verifier.value().add_crls(std::span<const char>(data.data), now_seconds());
        if (!added) {
            return "TLSClientCRL '" + crl.path + "' at " + crl.site.describe() + " (for " + host +
                   "): " + added.error().message() +
                   "; the CRL must be issued and signed by a TLSClientCA certificate and be "
                   "current (regenerate it, e.g. 'openssl ca -gencrl', then restart)";
        }
        out.identity += "|" + crl.path;
    }
    out.verifier = std::move(verifier.value());
    return {};
}

}  // namespace mod_tls
