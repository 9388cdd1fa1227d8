// Warnings found while Apache reads the configuration, before its error log is open: kept here
// and logged by post_config, where they reach the log.
#pragma once

#include <string>

#include "apache/includes.h"

namespace mod_tls {

void defer_startup_warning(std::string message);
// post_config: logs (in the pass that serves, not the dry run) and forgets the warnings.
void log_startup_warnings(server_rec *main_server);
// test_config hook (apache2 -t, where post_config does not run): logs them to stderr.
void log_config_test_warnings(apr_pool_t *pconf, server_rec *main_server);

}  // namespace mod_tls
