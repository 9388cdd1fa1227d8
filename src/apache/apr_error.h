// The text of an APR status code, for log lines and error messages.
#pragma once

#include <string>

#include "apache/includes.h"

namespace mod_tls {

inline std::string apr_error(apr_status_t rv) {
    char buf[256];
    return apr_strerror(rv, buf, sizeof buf);
}

}  // namespace mod_tls
