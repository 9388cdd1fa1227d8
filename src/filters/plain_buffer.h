// Decrypted plaintext waiting to be handed up: storage without zero-filling, released whenever
// it is drained, so an idle connection holds no plaintext buffer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace mod_tls {

class PlainBuffer {
public:
    std::string_view pending() const { return {data_.get() + start_, end_ - start_}; }
    size_t size() const { return end_ - start_; }

    // Room for at least `want` more bytes at the end (moves or grows the storage as needed).
    std::span<char> spare(size_t want) {
        if (capacity_ - end_ < want) {
            const size_t used = size();
            const size_t capacity = std::max(capacity_, used + want);
            if (capacity != capacity_) {
                auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
                std::copy_n(data_.get() + start_, used, bigger.get());
                data_ = std::move(bigger);
                capacity_ = capacity;
            } else {
                std::copy_n(data_.get() + start_, used, data_.get());
            }
            start_ = 0;
            end_ = used;
        }
        return {data_.get() + end_, capacity_ - end_};
    }
    void commit(size_t n) { end_ += std::min(n, capacity_ - end_); }

    // Drops n bytes from the front; storage is released once nothing is pending (so consume(0)
    // releases an unused reservation).
    void consume(size_t n) {
        start_ += std::min(n, size());
        if (start_ == end_) release();
    }

private:
    void release() {
        data_.reset();
        capacity_ = start_ = end_ = 0;
    }

    std::unique_ptr<char[]> data_;
    size_t capacity_ = 0;
    size_t start_ = 0;
    size_t end_ = 0;
};

}  // namespace mod_tls
