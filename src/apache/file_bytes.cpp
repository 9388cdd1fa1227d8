#include "apache/file_bytes.h"

#include <apr_file_io.h>
#include <apr_strings.h>

#include <span>

#include "apache/apr_error.h"

namespace mod_tls {

namespace {

// An open file, closed when it goes.
class OpenFile {
public:
    OpenFile(apr_pool_t *pool, const char *path) {
        rv_ = apr_file_open(&file_, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, pool);
        if (rv_ != APR_SUCCESS) file_ = nullptr;
    }
    ~OpenFile() {
        if (file_ != nullptr) apr_file_close(file_);
    }
    OpenFile(const OpenFile &) = delete;
    OpenFile &operator=(const OpenFile &) = delete;
    apr_status_t status() const { return rv_; }
    apr_file_t *get() const { return file_; }

private:
    apr_file_t *file_ = nullptr;
    apr_status_t rv_ = APR_SUCCESS;
};

// The size of a regular file of at most max_bytes, or sets `error`.
size_t checked_size(apr_file_t *file, const char *path, size_t max_bytes, std::string &error) {
    apr_finfo_t info;
    apr_status_t rv = apr_file_info_get(&info, APR_FINFO_SIZE | APR_FINFO_TYPE, file);
    if (rv != APR_SUCCESS) {
        error = std::string("cannot stat '") + path + "': " + apr_error(rv);
    } else if (info.filetype != APR_REG) {
        error = std::string("'") + path + "' is not a regular file";
    } else if (static_cast<size_t>(info.size) > max_bytes) {
        error = std::string("'") + path + "' is too large for a certificate or key file";
    } else {
        return static_cast<size_t>(info.size);
    }
    return 0;
}

// Opens `path` and reads all of it into the buffer make(size) gives. True, or sets `error`.
template <class Make>
bool read_whole(apr_pool_t *pool, const char *path, size_t max_bytes, Make make,
                std::string &error) {
    OpenFile file(pool, path);
    if (file.get() == nullptr) {
        error = std::string("cannot open '") + path + "': " + apr_error(file.status());
        return false;
    }
    const size_t size = checked_size(file.get(), path, max_bytes, error);
    if (!error.empty()) return false;
    std::span<char> into = make(size);
    size_t got = 0;
    apr_status_t rv = apr_file_read_full(file.get(), into.data(), into.size(), &got);
    if (rv != APR_SUCCESS && !(rv == APR_EOF && got == into.size())) {
        error = std::string("cannot read '") + path + "': " + apr_error(rv);
        return false;
    }
    return true;
}

}  // namespace

FileBytes read_file_bytes(apr_pool_t *pool, const char *path, size_t max_bytes) {
    FileBytes out;
    auto make = [&out](size_t size) {
        out.data.resize(size);
        return std::span<char>(out.data);
    };
    out.ok = read_whole(pool, path, max_bytes, make, out.error);
    if (!out.ok) out.data.clear();
    return out;
}

SecretFileBytes read_secret_file_bytes(apr_pool_t *pool, const char *path, size_t max_bytes) {
    SecretFileBytes out;
    auto make = [&out](size_t size) {
        out.data = SecretBytes(size);
        return out.data.span();
    };
    out.ok = read_whole(pool, path, max_bytes, make, out.error);
    return out;
}

}  // namespace mod_tls
