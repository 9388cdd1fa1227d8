// The text of a directive's syntax error: "<Directive>: <message>" (Apache adds file and line).
#pragma once

#include <string>

#include "apache/includes.h"

namespace mod_tls {

inline const char *directive_error(cmd_parms *cmd, const std::string &message) {
    return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", message.c_str(), nullptr);
}

}  // namespace mod_tls
