#include "config/startup_warnings.h"

#include <vector>

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {
// Directives are read by the parent process alone, one pass at a time: no concurrent access.
std::vector<std::string> g_warnings;
}  // namespace

void defer_startup_warning(std::string message) { g_warnings.push_back(std::move(message)); }

void log_startup_warnings(server_rec *main_server) {
    for (const std::string &w : g_warnings)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server, "%s", w.c_str());
    g_warnings.clear();
}

}  // namespace mod_tls
