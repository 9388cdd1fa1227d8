// Typed errors and results of bridge calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "tls_bridge.h"

namespace tls {

// What a failed bridge call reported: the result code, the TLS alerts involved and a readable
// message. alert_sent/alert_received hold kNoAlert when no alert applies.
class Error {
public:
    static constexpr uint16_t kNoAlert = TLSB_NO_ALERT;

    Error(tlsb_result code, std::string message, uint16_t alert_sent = kNoAlert,
          uint16_t alert_received = kNoAlert);
    // From a tlsb_error the bridge filled for a call that returned `code`.
    static Error from_bridge(tlsb_result code, const tlsb_error &err);

    tlsb_result code() const { return code_; }
    uint16_t alert_sent() const { return alert_sent_; }
    uint16_t alert_received() const { return alert_received_; }
    const std::string &message() const { return message_; }
    // The message plus the alerts, e.g. "... (sent alert protocol_version)".
    std::string describe() const;

private:
    tlsb_result code_;
    uint16_t alert_sent_;
    uint16_t alert_received_;
    std::string message_;
};

// A value or an Error; the module never throws across Apache's C callbacks.
template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
    Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    T &value() { return std::get<T>(v_); }
    const T &value() const { return std::get<T>(v_); }
    const Error &error() const { return std::get<Error>(v_); }

private:
    std::variant<T, Error> v_;
};

// The result of a call that yields no value.
using Status = Result<std::monostate>;
inline Status ok_status() { return Status(std::monostate{}); }

// Status for a bridge call's return code: ok for TLSB_OK, else the error it filled in.
Status check(tlsb_result code, const tlsb_error &err);

}  // namespace tls
