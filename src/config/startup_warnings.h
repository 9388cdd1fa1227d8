// Warnings found while Apache reads the configuration, before its error log is open: kept here
// and logged by post_config, where they reach the log.
#pragma once

#include <string>

#include "apache/includes.h"

namespace mod_tls {

void defer_startup_warning(std::string message);
// Logs and forgets the deferred warnings (once per configuration pass).
void log_startup_warnings(server_rec *main_server);

}  // namespace mod_tls
