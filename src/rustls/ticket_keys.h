// Session ticket keys parsed (in the bridge) from a TLSSessionTicketKeys file's text: the first
// key encrypts, all decrypt. Immutable; shared by every host's server config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "rustls/error.h"
#include "rustls/handle.h"

namespace tls {

class TicketKeys {
public:
    // text: the key file's contents. Errors name the line, never key material.
    static Result<TicketKeys> parse(std::span<const char> text, uint32_t lifetime_secs);
    size_t count() const;
    const tlsb_ticket_keys *get() const { return handle_.get(); }

private:
    explicit TicketKeys(TicketKeysHandle h) : handle_(std::move(h)) {}
    TicketKeysHandle handle_;
};

}  // namespace tls
