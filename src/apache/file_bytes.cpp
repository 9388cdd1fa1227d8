#include "apache/file_bytes.h"

#include <apr_file_io.h>
#include <apr_strings.h>

#include "apache/apr_error.h"

namespace mod_tls {

FileBytes read_file_bytes(apr_pool_t *pool, const char *path, size_t max_bytes) {
    FileBytes out;
    apr_file_t *file = nullptr;
    apr_status_t rv = apr_file_open(&file, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, pool);
    if (rv != APR_SUCCESS) {
        out.error = std::string("cannot open '") + path + "': " + apr_error(rv);
        return out;
    }
    apr_finfo_t info;
    rv = apr_file_info_get(&info, APR_FINFO_SIZE | APR_FINFO_TYPE, file);
    if (rv == APR_SUCCESS && info.filetype != APR_REG) {
        out.error = std::string("'") + path + "' is not a regular file";
    } else if (rv == APR_SUCCESS && static_cast<size_t>(info.size) > max_bytes) {
        out.error = std::string("'") + path + "' is too large for a certificate or key file";
    } else if (rv != APR_SUCCESS) {
        out.error = std::string("cannot stat '") + path + "': " + apr_error(rv);
    } else {
        out.data.resize(static_cast<size_t>(info.size));
        size_t got = 0;
        rv = apr_file_read_full(file, out.data.data(), out.data.size(), &got);
        if (rv != APR_SUCCESS && !(rv == APR_EOF && got == out.data.size())) {
            out.error = std::string("cannot read '") + path + "': " + apr_error(rv);
            out.data.clear();
        } else {
            out.ok = true;
        }
    }
    apr_file_close(file);
    return out;
}

}  // namespace mod_tls
