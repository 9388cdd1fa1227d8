// One TLS server connection in the bridge: bytes in, bytes out, plaintext both ways.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rustls/bytes.h"
#include "rustls/error.h"
#include "rustls/handle.h"
#include "rustls/client_config.h"
#include "rustls/server_config.h"

namespace tls {

// What the client offered in its ClientHello. Views point into the connection and stay valid
// until select_config() or reject().
struct ClientHello {
    std::string_view sni;                 // empty when the client sent none
    std::vector<std::string_view> alpn;   // offered protocols, in the client's order
    std::span<const uint16_t> signature_schemes;
    std::span<const uint16_t> cipher_suites;
};

// The state of process(): keep going, or a ClientHello is waiting for a config.
enum class Progress { kOk, kHelloReady };

// Outcome of read_plain(): data (n > 0), nothing buffered now, or the peer's close_notify.
enum class ReadState { kData, kWouldBlock, kClosed };
struct PlainRead {
    ReadState state;
    size_t n;
};

class Connection {
public:
    static Result<Connection> new_server();
    // A client (backend) connection; start_client() begins its handshake.
    static Result<Connection> new_client(const ClientConfig &config);
    // server_name: verified and sent as SNI; alpn: ','-separated protocols to offer (may be empty).
    Status start_client(std::string_view server_name, std::string_view alpn);
    bool is_client() const { return tlsb_conn_is_client(handle_.get()) != 0; }

    // TLS bytes from the peer; returns how many were taken. Empty: the transport hit EOF.
    Result<size_t> feed(std::span<const char> tls_bytes);
    Result<Progress> process();

    ClientHello client_hello() const;
    Status select_config(const ServerConfig &config, std::string_view alpn);
    Status reject(uint16_t alert);

    bool wants_write() const { return tlsb_conn_wants_write(handle_.get()) != 0; }
    // Lends the pending TLS bytes to sink, uncopied, in batches of whole records:
    // sink(std::span<const std::span<const char>>) -> bool. A batch is valid only during the call;
    // the sink sends or copies all of it and returns true, or returns false to stop (an error;
    // close the connection). It must not call back into this connection. Returns the bytes sent.
    template <class Sink>
    Result<size_t> send_tls(Sink &sink);

    bool is_handshaking() const { return tlsb_conn_is_handshaking(handle_.get()) != 0; }
    Result<PlainRead> read_plain(std::span<char> out);
    // Plaintext to encrypt; returns how much the session took (all of it).
    Result<size_t> write_plain(std::span<const char> data);
    void send_close_notify() { tlsb_conn_send_close_notify(handle_.get()); }

    uint16_t protocol_version() const { return tlsb_conn_protocol_version(handle_.get()); }
    uint16_t cipher_suite() const { return tlsb_conn_cipher_suite(handle_.get()); }
    // The IANA id of the negotiated key exchange group; 0 if none (not yet, or a TLS 1.2 resumption).
    uint16_t kx_group() const { return tlsb_conn_kx_group(handle_.get()); }
    std::string_view alpn() const;
    std::string_view sni() const;
    size_t peer_cert_count() const { return tlsb_conn_peer_cert_count(handle_.get()); }
    // Peer certificate i as DER (end-entity first); empty when there is none.
    std::span<const uint8_t> peer_cert(size_t index) const;
    // The certificate chain sent to the client (that of the configured key rustls chose).
    size_t server_cert_count() const { return tlsb_conn_server_cert_count(handle_.get()); }
    // Certificate i as DER, copied (it is kept for the connection's life and read from other
    // threads, while the bridge's pointers last only until the next call); empty when none.
    std::string server_cert(size_t index) const;
    // Whether the handshake resumed a stored session.
    bool is_resumed() const { return tlsb_conn_is_resumed(handle_.get()) != 0; }

private:
    explicit Connection(ConnectionHandle h) : handle_(std::move(h)) {}
    Result<size_t> send_tls(tlsb_tls_sink sink, void *ctx);
    ConnectionHandle handle_;
};

template <class Sink>
Result<size_t> Connection::send_tls(Sink &sink) {
    // Called from Rust: it must not throw (noexcept turns an exception into terminate).
    tlsb_tls_sink trampoline = [](void *ctx, const tlsb_slice *batch, size_t count) noexcept {
        std::array<std::span<const char>, TLSB_SEND_BATCH_MAX> spans;
        if (count > spans.size()) return 0;
        for (size_t i = 0; i < count; ++i)
            spans[i] = std::span<const char>(as_text(batch[i].data, batch[i].len));
        return (*static_cast<Sink *>(ctx))(std::span<const std::span<const char>>(spans.data(), count))
                   ? 1
                   : 0;
    };
    return send_tls(trampoline, &sink);
}

// The suites rustls implements, in its default preference order.
std::span<const uint16_t> supported_cipher_suites();
bool is_supported_cipher_suite(uint16_t suite);

std::string_view protocol_name(uint16_t version);
std::string_view cipher_suite_name(uint16_t suite);
std::string_view alert_name(uint16_t alert);

// The key exchange groups the bridge offers (IANA ids), in the default preference order.
std::span<const uint16_t> supported_kx_groups();
// IANA name of a group ("X25519MLKEM768", "x25519", ...); "unknown" otherwise.
std::string_view kx_group_name(uint16_t group);

}  // namespace tls
