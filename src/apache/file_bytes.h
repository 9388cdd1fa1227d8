// Reads a whole (configuration) file into memory, with an error message naming the file.
#pragma once

#include <string>

#include <apr_pools.h>

#include "apache/secret_bytes.h"

namespace mod_tls {

struct FileBytes {
    bool ok = false;
    std::string data;   // the contents when ok
    std::string error;  // why not, e.g. "cannot open '/x.pem': No such file or directory"
};

// Files bigger than max_bytes are refused (certificates and keys are small).
FileBytes read_file_bytes(apr_pool_t *pool, const char *path, size_t max_bytes = 1 << 20);

// The same for a file of secrets (key text): its contents are cleared when they go.
struct SecretFileBytes {
    bool ok = false;
    SecretBytes data;
    std::string error;
};
SecretFileBytes read_secret_file_bytes(apr_pool_t *pool, const char *path, size_t max_bytes);

}  // namespace mod_tls
