#include "config/cipher_directive.h"

#include <optional>
#include <string>

#include "config/cipher_names.h"
#include "config/directive_error.h"
#include "config/server_config.h"
#include "config/startup_warnings.h"
#include "rustls/connection.h"

namespace mod_tls {

const char *parse_cipher_arguments(cmd_parms *cmd, std::string_view clear_word,
                                   bool warn_unsupported, int argc, char *const argv[],
                                   std::vector<uint16_t> &ids) {
    std::vector<std::string_view> args(argv, argv + argc);
    ids.clear();
    if (args.size() == 1 && args[0] == clear_word) return nullptr;
    for (const std::string &name : split_cipher_names(args)) {
        std::optional<uint16_t> id = cipher_suite_id(name);
        if (!id) {
            return directive_error(cmd, "unknown cipher suite '" + name +
                         "'; use IANA names (TLS_AES_128_GCM_SHA256, "
                         "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), OpenSSL names "
                         "(ECDHE-ECDSA-AES128-GCM-SHA256) or TLS_CIPHER_0xNNNN");
        }
        if (warn_unsupported && !tls::is_supported_cipher_suite(*id)) {
            defer_startup_warning(std::string(cmd->cmd->name) + " at " + site_of(cmd).describe() +
                                  ": cipher suite '" + name +
                                  "' is not implemented by rustls; ignored");
        }
        ids.push_back(*id);
    }
    if (ids.empty()) return directive_error(cmd, "no cipher suite names given");
    return nullptr;
}

}  // namespace mod_tls
