// Byte-span conversions between Apache's char buffers and the bridge's uint8_t buffers.
// The only casts between the two live here; char and uint8_t may alias each other.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace tls {

inline const uint8_t *u8(std::span<const char> s) {
    return reinterpret_cast<const uint8_t *>(s.data());
}
inline uint8_t *u8(std::span<char> s) { return reinterpret_cast<uint8_t *>(s.data()); }

// A view of bytes the bridge returned (pointer + length), as text.
inline std::string_view as_text(const uint8_t *p, size_t len) {
    if (p == nullptr) return {};
    return {reinterpret_cast<const char *>(p), len};
}
inline std::string_view as_text(std::span<const uint8_t> s) { return as_text(s.data(), s.size()); }

// Bytes kept in a std::string, as the bridge takes them.
inline std::span<const uint8_t> as_u8(std::string_view s) {
    return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

}  // namespace tls
