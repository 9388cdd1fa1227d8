#include "config/protocol_version.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace mod_tls {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return out;
}

// "1.2" -> 0x0303 style wire version; 0 when not a known dotted version.
uint16_t dotted_version(std::string_view v) {
    if (v == "1" || v == "1.0") return 0x0301;
    if (v == "1.1") return 0x0302;
    if (v == "1.2") return kTls12;
    if (v == "1.3") return kTls13;
    return 0;
}

// "0x0304" -> 0x0304; 0 when not exactly 4 hex digits.
uint16_t hex_version(std::string_view v) {
    if (v.size() != 6 || v.substr(0, 2) != "0x") return 0;
    unsigned value = 0;
    auto digits = v.substr(2);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
    if (ec != std::errc() || end != digits.data() + digits.size()) return 0;
    return static_cast<uint16_t>(value);
}

}  // namespace

ProtocolMinimum parse_protocol_minimum(std::string_view value) {
    ProtocolMinimum out;
    const std::string v = lower(value);
    if (v == "default") {
        out.ok = true;
        return out;
    }
    std::string_view rest = v;
    uint16_t version = 0;
    if (rest.size() > 1 && rest.back() == '+') {
        rest.remove_suffix(1);
        if (rest.starts_with("tlsv")) rest.remove_prefix(4);
        else if (rest.starts_with("v")) rest.remove_prefix(1);
        else rest = {};
        version = rest.starts_with("0x") ? hex_version(rest) : dotted_version(rest);
    }
    if (version == 0) {
        out.error = "unknown protocol '" + std::string(value) +
                    "'; use one of: default, TLSv1.2+, TLSv1.3+, TLSv0x0303+, TLSv0x0304+";
        return out;
    }
    if (version > kTls13) {
        out.error = "protocol '" + std::string(value) +
                    "' is newer than TLS 1.3, the newest this module supports; use TLSv1.3+";
        return out;
    }
    out.ok = true;
    if (version < kTls12) {
        out.warning = "protocol '" + std::string(value) +
                      "' is below TLS 1.2, which rustls does not support; using TLSv1.2+";
        version = kTls12;
    }
    out.version = version;
    return out;
}

std::vector<uint16_t> versions_from(uint16_t minimum) {
    if (minimum >= kTls13) return {kTls13};
    return {kTls13, kTls12};
}

}  // namespace mod_tls
