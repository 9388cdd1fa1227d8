#include "rustls/error.h"

#include <cstring>

namespace tls {

Error::Error(tlsb_result code, std::string message, uint16_t alert_sent, uint16_t alert_received)
    : code_(code), alert_sent_(alert_sent), alert_received_(alert_received),
      message_(std::move(message)) {}

Error Error::from_bridge(tlsb_result code, const tlsb_error &err) {
    // The bridge NUL-terminates, but never trust that blindly: bound by the array size.
    std::string_view msg(err.message, strnlen(err.message, sizeof(err.message)));
    if (msg.empty()) msg = tlsb_result_name(code);
    return Error(code, std::string(msg), err.alert_sent, err.alert_received);
}

std::string Error::describe() const {
    std::string out = message_;
    if (alert_sent_ != kNoAlert) {
        out += " (sent alert ";
        out += tlsb_alert_name(alert_sent_);
        out += ")";
    }
    if (alert_received_ != kNoAlert) {
        out += " (received alert ";
        out += tlsb_alert_name(alert_received_);
        out += ")";
    }
    return out;
}

Status check(tlsb_result code, const tlsb_error &err) {
    if (code == TLSB_OK) return ok_status();
    return Error::from_bridge(code, err);
}

}  // namespace tls
