#include "rustls/ticket_keys.h"

#include "rustls/bytes.h"

namespace tls {

Result<TicketKeys> TicketKeys::parse(std::span<const char> text, uint32_t lifetime_secs) {
    tlsb_ticket_keys *out = nullptr;
    tlsb_error err{};
    tlsb_result rc = tlsb_ticket_keys_new(u8(text), text.size(), lifetime_secs, &out, &err);
    TicketKeysHandle handle(out);
    if (rc != TLSB_OK || !handle) return Error::from_bridge(rc == TLSB_OK ? TLSB_ERR_NULL : rc, err);
    return TicketKeys(std::move(handle));
}

size_t TicketKeys::count() const { return tlsb_ticket_keys_count(handle_.get()); }

}  // namespace tls
