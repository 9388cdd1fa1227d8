// Bytes that hold a secret (the text of a key file): the buffer is cleared when it goes, with a
// store the compiler must keep (explicit_bzero). A plain memset or std::fill just before the
// memory is freed is a dead store, and compilers remove it: g++ 12 -O2 drops a std::fill here, in
// the destructor of a local owner (tests/unit/secret_bytes_test.cpp).
#pragma once

#include <string.h>

#include <cstddef>
#include <memory>
#include <span>
#include <utility>

namespace mod_tls {

class SecretBytes {
public:
    SecretBytes() = default;
    explicit SecretBytes(size_t size) : data_(std::make_unique<char[]>(size)), size_(size) {}
    ~SecretBytes() {
        if (data_ != nullptr) explicit_bzero(data_.get(), size_);
    }
    SecretBytes(SecretBytes &&other) noexcept
        : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
    SecretBytes &operator=(SecretBytes &&other) noexcept {  // clears what it held first
        if (this != &other) {
            SecretBytes old(std::move(*this));
            data_ = std::move(other.data_);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    SecretBytes(const SecretBytes &) = delete;
    SecretBytes &operator=(const SecretBytes &) = delete;

    char *data() { return data_.get(); }
    size_t size() const { return size_; }
    std::span<char> span() { return {data_.get(), size_}; }
    std::span<const char> view() const { return {data_.get(), size_}; }

private:
    std::unique_ptr<char[]> data_;
    size_t size_ = 0;
};

}  // namespace mod_tls
