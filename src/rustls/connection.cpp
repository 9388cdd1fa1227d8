#include "rustls/connection.h"

#include "rustls/bytes.h"

namespace tls {

Result<Connection> Connection::new_server() {
    tlsb_conn *raw = nullptr;
    tlsb_result rc = tlsb_conn_new_server(&raw);
    ConnectionHandle handle(raw);
    if (rc != TLSB_OK || !handle) return Error(rc, "cannot create a TLS connection");
    return Connection(std::move(handle));
}

Result<Connection> Connection::new_client(const ClientConfig &config) {
    tlsb_conn *raw = nullptr;
    tlsb_result rc = tlsb_conn_new_client(config.get(), &raw);
    ConnectionHandle handle(raw);
    if (rc != TLSB_OK || !handle) return Error(rc, "cannot create a TLS client connection");
    return Connection(std::move(handle));
}

Status Connection::start_client(std::string_view server_name, std::string_view alpn) {
    tlsb_error err{};
    return check(tlsb_conn_start_client(handle_.get(), u8(server_name), server_name.size(),
                                        u8(alpn), alpn.size(), &err),
                 err);
}

Result<size_t> Connection::feed(std::span<const char> tls_bytes) {
    size_t consumed = 0;
    tlsb_error err{};
    tlsb_result rc =
        tlsb_conn_read_tls(handle_.get(), u8(tls_bytes), tls_bytes.size(), &consumed, &err);
    if (rc != TLSB_OK) return Error::from_bridge(rc, err);
    return consumed;
}

Result<Progress> Connection::process() {
    tlsb_error err{};
    tlsb_result rc = tlsb_conn_process(handle_.get(), &err);
    if (rc == TLSB_OK) return Progress::kOk;
    if (rc == TLSB_HELLO_READY) return Progress::kHelloReady;
    return Error::from_bridge(rc, err);
}

ClientHello Connection::client_hello() const {
    ClientHello hello;
    const uint8_t *p = nullptr;
    size_t len = 0;
    if (tlsb_conn_hello_sni(handle_.get(), &p, &len) == TLSB_OK) hello.sni = as_text(p, len);
    const size_t count = tlsb_conn_hello_alpn_count(handle_.get());
    for (size_t i = 0; i < count; ++i) {
        if (tlsb_conn_hello_alpn(handle_.get(), i, &p, &len) == TLSB_OK)
            hello.alpn.push_back(as_text(p, len));
    }
    const uint16_t *ids = nullptr;
    size_t n = 0;
    if (tlsb_conn_hello_signature_schemes(handle_.get(), &ids, &n) == TLSB_OK && ids != nullptr)
        hello.signature_schemes = {ids, n};
    if (tlsb_conn_hello_cipher_suites(handle_.get(), &ids, &n) == TLSB_OK && ids != nullptr)
        hello.cipher_suites = {ids, n};
    return hello;
}

Status Connection::select_config(const ServerConfig &config, std::string_view alpn) {
    tlsb_error err{};
    return check(tlsb_conn_select_config(handle_.get(), config.get(), u8(alpn), alpn.size(), &err),
                 err);
}

Status Connection::reject(uint16_t alert) {
    tlsb_error err{};
    return check(tlsb_conn_reject(handle_.get(), alert, &err), err);
}

Result<size_t> Connection::send_tls(tlsb_tls_sink sink, void *ctx) {
    size_t sent = 0;
    tlsb_error err{};
    tlsb_result rc = tlsb_conn_send_tls(handle_.get(), sink, ctx, &sent, &err);
    if (rc != TLSB_OK) return Error::from_bridge(rc, err);
    return sent;
}

Result<PlainRead> Connection::read_plain(std::span<char> out) {
    size_t n = 0;
    tlsb_error err{};
    tlsb_result rc = tlsb_conn_read_plain(handle_.get(), u8(out), out.size(), &n, &err);
    switch (rc) {
        case TLSB_OK: return PlainRead{ReadState::kData, n};
        case TLSB_WOULD_BLOCK: return PlainRead{ReadState::kWouldBlock, 0};
        case TLSB_CLOSED: return PlainRead{ReadState::kClosed, 0};
        default: return Error::from_bridge(rc, err);
    }
}

Result<size_t> Connection::write_plain(std::span<const char> data) {
    size_t n = 0;
    tlsb_error err{};
    tlsb_result rc = tlsb_conn_write_plain(handle_.get(), u8(data), data.size(), &n, &err);
    if (rc != TLSB_OK) return Error::from_bridge(rc, err);
    return n;
}

std::string_view Connection::alpn() const {
    const uint8_t *p = nullptr;
    size_t len = 0;
    if (tlsb_conn_alpn(handle_.get(), &p, &len) != TLSB_OK) return {};
    return as_text(p, len);
}

std::string_view Connection::sni() const {
    const uint8_t *p = nullptr;
    size_t len = 0;
    if (tlsb_conn_sni(handle_.get(), &p, &len) != TLSB_OK) return {};
    return as_text(p, len);
}

std::span<const uint8_t> Connection::peer_cert(size_t index) const {
    const uint8_t *p = nullptr;
    size_t len = 0;
    if (tlsb_conn_peer_cert(handle_.get(), index, &p, &len) != TLSB_OK || p == nullptr) return {};
    return {p, len};
}

std::string Connection::server_cert(size_t index) const {
    const uint8_t *p = nullptr;
    size_t len = 0;
    if (tlsb_conn_server_cert(handle_.get(), index, &p, &len) != TLSB_OK || p == nullptr) return {};
    return std::string(as_text(p, len));
}

std::span<const uint16_t> supported_cipher_suites() {
    const uint16_t *ids = nullptr;
    size_t count = 0;
    if (tlsb_supported_cipher_suites(&ids, &count) != TLSB_OK || ids == nullptr) return {};
    return {ids, count};
}

bool is_supported_cipher_suite(uint16_t suite) {
    for (uint16_t id : supported_cipher_suites()) {
        if (id == suite) return true;
    }
    return false;
}

std::string_view protocol_name(uint16_t version) { return tlsb_protocol_version_name(version); }
std::string_view cipher_suite_name(uint16_t suite) { return tlsb_cipher_suite_name(suite); }
std::string_view alert_name(uint16_t alert) { return tlsb_alert_name(alert); }

std::span<const uint16_t> supported_kx_groups() {
    const uint16_t *ids = nullptr;
    size_t count = 0;
    if (tlsb_supported_kx_groups(&ids, &count) != TLSB_OK || ids == nullptr) return {};
    return {ids, count};
}

std::string_view kx_group_name(uint16_t group) { return tlsb_kx_group_name(group); }

}  // namespace tls
