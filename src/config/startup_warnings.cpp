#include "config/startup_warnings.h"

#include <vector>

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {
// Directives are read by the parent process alone, one pass at a time: no concurrent access.
std::vector<std::string> g_warnings;
}  // namespace

void defer_startup_warning(std::string message) { g_warnings.push_back(std::move(message)); }

namespace {
void log_and_forget(server_rec *main_server, bool log) {
    if (log) {
        for (const std::string &w : g_warnings)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server, "%s", w.c_str());
    }
    g_warnings.clear();
}
}  // namespace

void log_startup_warnings(server_rec *main_server) {
    // Apache reads the configuration twice at startup: the first pass is a dry run.
    log_and_forget(main_server, ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG);
}

void log_config_test_warnings(apr_pool_t *, server_rec *main_server) {
    log_and_forget(main_server, true);
}

}  // namespace mod_tls
