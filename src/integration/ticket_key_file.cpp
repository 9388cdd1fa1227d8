#include "integration/ticket_key_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "apache/file_bytes.h"
#include "config/server_config.h"
#include "integration/session_cache.h"
#include "rustls/ticket_keys.h"
#include "config/directive_error.h"

namespace mod_tls {

namespace {


std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

}  // namespace

const char *set_session_ticket_keys(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
    std::string path = ap_server_root_relative(cmd->pool, arg);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return directive_error(cmd, "cannot read '" + path + "': " + std::strerror(errno) +
                              "; check the key file's path");
    }
    // Whoever reads the keys can decrypt every ticket (and so every resumed session's secrets).
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        return directive_error(cmd, "'" + path + "' is accessible to group or others (mode " +
                              octal_mode(st.st_mode) + "); the keys protect every session: " +
                              "run 'chmod 600 " + path + "'");
    }
    // The key text is cleared when `text` goes, on every path.
    SecretFileBytes text = read_secret_file_bytes(cmd->temp_pool, path.c_str(), 64 * 1024);
    if (!text.ok) return directive_error(cmd, text.error);
    auto keys = tls::TicketKeys::parse(text.data.view(), kSessionLifetimeSecs);
    if (!keys) return directive_error(cmd, "'" + path + "': " + keys.error().message());
    server_config(cmd->server)->ticket_keys =
        std::make_shared<const tls::TicketKeys>(std::move(keys.value()));
    return nullptr;
}

}  // namespace mod_tls
