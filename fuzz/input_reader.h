// Reads a fuzz input front to back: small integers and byte strings. Past the end it yields
// zeros and empty strings, so every input is a valid program. Seeds are easy to write by hand
// (fuzz/make_corpus.py).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace fuzz {

class InputReader {
public:
    InputReader(const uint8_t *data, size_t size) : data_(data, size) {}

    bool done() const { return pos_ >= data_.size(); }
    uint8_t u8() { return done() ? 0 : data_[pos_++]; }
    uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
    bool flag() { return (u8() & 1) != 0; }
    // Up to n bytes (fewer at the end of the input).
    std::span<const uint8_t> bytes(size_t n) {
        const size_t take = std::min(n, data_.size() - std::min(pos_, data_.size()));
        auto out = data_.subspan(std::min(pos_, data_.size()), take);
        pos_ += take;
        return out;
    }
    // A length-prefixed byte string (u16 length).
    std::span<const uint8_t> blob() { return bytes(u16()); }

private:
    std::span<const uint8_t> data_;
    size_t pos_ = 0;
};

}  // namespace fuzz
