#include "config/server_config.h"

#include "apache/pool_owned.h"

namespace mod_tls {

DirectiveSite site_of(const cmd_parms *cmd) {
    DirectiveSite site;
    if (cmd->directive != nullptr) {
        site.file = cmd->directive->filename ? cmd->directive->filename : "";
        site.line = static_cast<unsigned>(cmd->directive->line_num);
    } else if (cmd->config_file != nullptr) {
        site.file = cmd->config_file->name ? cmd->config_file->name : "";
        site.line = cmd->config_file->line_number;
    }
    return site;
}

ServerConfig *server_config(const server_rec *s) {
    return static_cast<ServerConfig *>(ap_get_module_config(s->module_config, &tls_module));
}

void *create_server_config(apr_pool_t *pool, server_rec *) {
    return make_pool_owned<ServerConfig>(pool);
}

// A vhost's own values win; what it leaves unset comes from the main server. A vhost with its
// own certificates uses only those (never the main server's in addition).
void *merge_server_config(apr_pool_t *pool, void *base_v, void *add_v) {
    const auto *base = static_cast<const ServerConfig *>(base_v);
    const auto *add = static_cast<const ServerConfig *>(add_v);
    auto *merged = make_pool_owned<ServerConfig>(pool);
    merged->certificates = add->certificates.empty() ? base->certificates : add->certificates;
    merged->min_protocol = add->min_protocol ? add->min_protocol : base->min_protocol;
    merged->ciphers_prefer = add->ciphers_prefer ? add->ciphers_prefer : base->ciphers_prefer;
    merged->ciphers_suppress =
        add->ciphers_suppress ? add->ciphers_suppress : base->ciphers_suppress;
    merged->kx_groups = add->kx_groups ? add->kx_groups : base->kx_groups;
    merged->honor_client_order =
        add->honor_client_order ? add->honor_client_order : base->honor_client_order;
    merged->strict_sni = add->strict_sni ? add->strict_sni : base->strict_sni;
    merged->client_auth = merge_client_auth(base->client_auth, add->client_auth);
    return merged;
}

}  // namespace mod_tls
