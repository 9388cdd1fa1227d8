// Where a server config keeps resumable sessions when they must outlive one process: an
// interface the bridge calls (through C callbacks) during handshakes, from any thread.
// Implemented outside src/rustls/ (integration/session_cache.cpp, on Apache's socache).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace tls {

class SessionStore {
public:
    virtual ~SessionStore() = default;
    // Keys and values are opaque bytes (values hold session secrets). Both must be thread-safe
    // and must not throw: they run inside the bridge.
    virtual bool put(std::span<const uint8_t> key, std::span<const uint8_t> value) noexcept = 0;
    // The value's length, written to the start of `out`, or nullopt (not found / unavailable).
    // remove: the session is single-use (TLS 1.3) and leaves the store.
    virtual std::optional<size_t> get(std::span<const uint8_t> key, bool remove,
                                      std::span<uint8_t> out) noexcept = 0;
};

}  // namespace tls
