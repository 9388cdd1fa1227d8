// The C++ owners over the bridge, driven through complete handshakes in memory against an
// OpenSSL client (a second, independent TLS implementation), and their failure cases.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rustls/certified_key.h"
#include "rustls/connection.h"
#include "rustls/server_config.h"
#include "test_data.h"

namespace {

using test_data::slurp;

tls::CertifiedKey load_key(const std::string &cert, const std::string &key) {
    const std::string c = slurp(cert), k = slurp(key);
    auto r = tls::CertifiedKey::from_pem(std::span<const char>(c), std::span<const char>(k));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
    return std::move(r.value());
}

tls::ServerConfig build_config(const tls::CertifiedKey &key, std::vector<uint16_t> versions = {}) {
    tls::ServerConfigParams params;
    params.keys = {&key};
    params.versions = std::move(versions);
    params.alpn = {"http/1.1"};
    auto r = tls::ServerConfig::build(params);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
    return std::move(r.value());
}

struct SslCtxFree { void operator()(SSL_CTX *p) const { SSL_CTX_free(p); } };
struct SslFree { void operator()(SSL *p) const { SSL_free(p); } };

// An OpenSSL client talking through memory BIOs.
class OpenSslClient {
public:
    OpenSslClient(int min_version, int max_version, const char *sni) {
        ctx_.reset(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_set_min_proto_version(ctx_.get(), min_version);
        SSL_CTX_set_max_proto_version(ctx_.get(), max_version);
        SSL_CTX_load_verify_locations(ctx_.get(), (test_data::kDir + "ca.crt").c_str(), nullptr);
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
        ssl_.reset(SSL_new(ctx_.get()));
        in_ = BIO_new(BIO_s_mem());
        out_ = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl_.get(), in_, out_);  // ssl owns both BIOs now
        SSL_set_connect_state(ssl_.get());
        // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
        if (sni != nullptr)
            SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char *>(sni));
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_set_alpn_protos(ssl_.get(), alpn, sizeof(alpn) - 1);
    }
    SSL *ssl() { return ssl_.get(); }
    std::string take_output() {
        std::string out;
        char buf[4096];
        int n;
        while ((n = BIO_read(out_, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
        return out;
    }
    void give_input(std::string_view bytes) {
        if (!bytes.empty()) BIO_write(in_, bytes.data(), static_cast<int>(bytes.size()));
    }

private:
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
    std::unique_ptr<SSL, SslFree> ssl_;
    BIO *in_ = nullptr;
    BIO *out_ = nullptr;
};

std::string take_all_tls(tls::Connection &server) {
    std::string out;
    auto append = [&out](std::span<const std::span<const char>> batch) {
        for (std::span<const char> record : batch) out.append(record.data(), record.size());
        return true;
    };
    while (server.wants_write()) {
        auto n = server.send_tls(append);
        EXPECT_TRUE(n.ok());
        if (!n.ok() || n.value() == 0) break;
    }
    return out;
}

// Runs the handshake. Returns the server's error, if any; hello_sni receives the SNI seen.
std::optional<tls::Error> handshake(OpenSslClient &client, tls::Connection &server,
                                    const tls::ServerConfig &config, std::string *hello_sni,
                                    uint16_t reject_alert = 0) {
    for (int round = 0; round < 20; ++round) {
        SSL_do_handshake(client.ssl());
        std::string to_server = client.take_output();
        if (!to_server.empty()) {
            auto taken = server.feed(to_server);
            if (!taken) return taken.error();
            EXPECT_EQ(taken.value(), to_server.size());
            auto p = server.process();
            if (!p) {
                client.give_input(take_all_tls(server));
                return p.error();
            }
            if (p.value() == tls::Progress::kHelloReady) {
                if (hello_sni) *hello_sni = std::string(server.client_hello().sni);
                if (reject_alert != 0) {
                    tls::Status rejected = server.reject(reject_alert);
                    EXPECT_TRUE(rejected.ok());
                    client.give_input(take_all_tls(server));
                    EXPECT_LE(SSL_do_handshake(client.ssl()), 0);
                    return tls::Error(TLSB_ERR_TLS, "rejected", reject_alert);
                }
                tls::Status st = server.select_config(config, "http/1.1");
                if (!st) {
                    client.give_input(take_all_tls(server));
                    SSL_do_handshake(client.ssl());
                    return st.error();
                }
                auto again = server.process();
                if (!again) return again.error();
            }
        }
        client.give_input(take_all_tls(server));
        if (SSL_is_init_finished(client.ssl()) && !server.is_handshaking()) return std::nullopt;
    }
    return tls::Error(TLSB_ERR_TLS, "handshake did not finish");
}

class TlsSession : public ::testing::Test {
protected:
    void SetUp() override {
        auto s = tls::Connection::new_server();
        ASSERT_TRUE(s.ok());
        server_ = std::make_unique<tls::Connection>(std::move(s.value()));
    }
    std::unique_ptr<tls::Connection> server_;
};

TEST_F(TlsSession, Tls13HandshakeAndDataBothWays) {
    auto key = load_key("ecdsa-p256.crt", "ecdsa-p256.key");
    auto config = build_config(key);
    OpenSslClient client(TLS1_2_VERSION, TLS1_3_VERSION, "localhost");
    std::string sni;
    auto err = handshake(client, *server_, config, &sni);
    ASSERT_FALSE(err) << err->describe();
    EXPECT_EQ(sni, "localhost");
    EXPECT_EQ(server_->protocol_version(), TLSB_TLS13);
    EXPECT_EQ(tls::protocol_name(server_->protocol_version()), "TLSv1.3");
    EXPECT_EQ(server_->alpn(), "http/1.1");
    EXPECT_EQ(server_->sni(), "localhost");
    EXPECT_EQ(SSL_get_verify_result(client.ssl()), X509_V_OK);

    // client -> server
    const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ASSERT_EQ(SSL_write(client.ssl(), request.data(), static_cast<int>(request.size())),
              static_cast<int>(request.size()));
    ASSERT_TRUE(server_->feed(client.take_output()).ok());
    ASSERT_TRUE(server_->process().ok());
    char buf[1024];
    auto got = server_->read_plain(std::span<char>(buf, sizeof(buf)));
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got.value().state, tls::ReadState::kData);
    EXPECT_EQ(std::string(buf, got.value().n), request);
    auto none = server_->read_plain(std::span<char>(buf, sizeof(buf)));
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none.value().state, tls::ReadState::kWouldBlock);

    // server -> client, larger than one record
    const std::string body(100000, 'x');
    size_t sent = 0;
    std::string wire;
    while (sent < body.size()) {
        auto n = server_->write_plain(std::string_view(body).substr(sent));
        ASSERT_TRUE(n.ok());
        sent += n.value();
        wire += take_all_tls(*server_);
    }
    client.give_input(wire);
    std::string received;
    int n;
    while ((n = SSL_read(client.ssl(), buf, sizeof(buf))) > 0) received.append(buf, static_cast<size_t>(n));
    EXPECT_EQ(received, body);

    // close_notify from the client ends the plaintext stream
    SSL_shutdown(client.ssl());
    ASSERT_TRUE(server_->feed(client.take_output()).ok());
    ASSERT_TRUE(server_->process().ok());
    auto closed = server_->read_plain(std::span<char>(buf, sizeof(buf)));
    ASSERT_TRUE(closed.ok());
    EXPECT_EQ(closed.value().state, tls::ReadState::kClosed);
}

TEST_F(TlsSession, Tls12WithRsa) {
    auto key = load_key("rsa.crt", "rsa.key");
    auto config = build_config(key);
    OpenSslClient client(TLS1_2_VERSION, TLS1_2_VERSION, "localhost");
    auto err = handshake(client, *server_, config, nullptr);
    ASSERT_FALSE(err) << err->describe();
    EXPECT_EQ(server_->protocol_version(), TLSB_TLS12);
    EXPECT_EQ(tls::cipher_suite_name(server_->cipher_suite()).substr(0, 14), "TLS_ECDHE_RSA_");
}

TEST_F(TlsSession, Tls13OnlyServerRefusesTls12Client) {
    auto key = load_key("ecdsa-p256.crt", "ecdsa-p256.key");
    auto config = build_config(key, {TLSB_TLS13});
    OpenSslClient client(TLS1_2_VERSION, TLS1_2_VERSION, "localhost");
    auto err = handshake(client, *server_, config, nullptr);
    ASSERT_TRUE(err);
    EXPECT_EQ(err->code(), TLSB_ERR_TLS);
    EXPECT_EQ(tls::alert_name(err->alert_sent()), "protocol_version");
    EXPECT_FALSE(SSL_is_init_finished(client.ssl()));
}

TEST_F(TlsSession, RejectSendsTheAlertToTheClient) {
    auto key = load_key("ecdsa-p256.crt", "ecdsa-p256.key");
    auto config = build_config(key);
    OpenSslClient client(TLS1_2_VERSION, TLS1_3_VERSION, "unknown.example");
    std::string sni;
    auto err = handshake(client, *server_, config, &sni, 112 /* unrecognized_name */);
    ASSERT_TRUE(err);
    EXPECT_EQ(sni, "unknown.example");
    EXPECT_EQ(err->alert_sent(), 112);
    // OpenSSL reports the received alert in its error queue.
    unsigned long e = ERR_peek_last_error();
    ASSERT_NE(e, 0u);
    EXPECT_NE(std::string(ERR_reason_error_string(e)).find("unrecognized name"), std::string::npos)
        << ERR_reason_error_string(e);
    ERR_clear_error();
}

TEST_F(TlsSession, GarbageIsRefusedWithAnAlert) {
    // A handshake record holding a ClientHello of one byte: undecodable.
    const std::string garbage("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10);
    ASSERT_TRUE(server_->feed(garbage).ok());
    auto p = server_->process();
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), TLSB_ERR_TLS);
    EXPECT_NE(p.error().alert_sent(), tls::Error::kNoAlert);
    EXPECT_TRUE(server_->wants_write());  // the alert is queued for the client
}

TEST_F(TlsSession, PlainHttpIsNamedInTheError) {
    ASSERT_TRUE(server_->feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    auto p = server_->process();
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message().find("plain HTTP"), std::string::npos) << p.error().message();
}

TEST_F(TlsSession, EofBeforeHelloCompleteIsAnError) {
    ASSERT_TRUE(server_->feed("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").ok());
    auto p = server_->process();
    ASSERT_TRUE(p.ok());  // incomplete, waiting for more
    ASSERT_TRUE(server_->feed({}).ok());
    auto eof = server_->process();
    ASSERT_FALSE(eof.ok());
    EXPECT_EQ(eof.error().code(), TLSB_ERR_TLS);
}

// A handshake in which the connection goes on after server_cert(0) was taken (as the connection's
// thread does while HTTP/2 workers read SSL_SERVER_*), then ends with its config and key. Returns
// what server_cert(0) gave; `received` gets the DER the client was sent.
auto server_cert_taken_at_handshake_end(std::vector<uint8_t> &received) {
    auto key = load_key("ecdsa-p256.crt", "ecdsa-p256.key");
    auto config = build_config(key);
    auto made = tls::Connection::new_server();
    EXPECT_TRUE(made.ok());
    tls::Connection server = std::move(made.value());
    OpenSslClient client(TLS1_2_VERSION, TLS1_3_VERSION, "localhost");
    auto err = handshake(client, server, config, nullptr);
    EXPECT_FALSE(err) << err->describe();
    auto der = server.server_cert(0);
    const std::string body(40000, 'x');
    EXPECT_TRUE(server.write_plain(body).ok());
    client.give_input(take_all_tls(server));
    server.send_close_notify();
    client.give_input(take_all_tls(server));
    X509 *peer = SSL_get1_peer_certificate(client.ssl());
    EXPECT_NE(peer, nullptr);
    unsigned char *out = nullptr;
    const int len = i2d_X509(peer, &out);
    EXPECT_GT(len, 0);
    received.assign(out, out + len);
    OPENSSL_free(out);
    X509_free(peer);
    return der;
}

TEST(ServerCert, IsTheConnectionsOwnCopy) {
    std::vector<uint8_t> received;
    const auto der = server_cert_taken_at_handshake_end(received);
    EXPECT_EQ(std::vector<uint8_t>(der.begin(), der.end()), received)
        << "still the certificate sent, after the session, its config and its key are gone";
}

TEST(CertifiedKey, LoadsEveryKeyTypeAndReportsItsAlgorithm) {
    struct Case { const char *cert, *key, *alg; size_t chain; };
    for (const Case &c : {Case{"rsa.crt", "rsa.key", "RSA", 1},
                          Case{"rsa.crt", "rsa.pkcs1.key", "RSA", 1},
                          Case{"ecdsa-p256.crt", "ecdsa-p256.sec1.key", "ECDSA", 1},
                          Case{"ecdsa-p384.crt", "ecdsa-p384.key", "ECDSA", 1},
                          Case{"ed25519.crt", "ed25519.key", "Ed25519", 1},
                          Case{"chain.crt", "chain-leaf.key", "ECDSA", 2}}) {
        const std::string cert = slurp(c.cert), key = slurp(c.key);
        auto r = tls::CertifiedKey::from_pem(std::span<const char>(cert), std::span<const char>(key));
        ASSERT_TRUE(r.ok()) << c.cert << ": " << r.error().describe();
        EXPECT_EQ(r.value().algorithm(), c.alg) << c.cert;
        EXPECT_EQ(r.value().chain_length(), c.chain) << c.cert;
    }
}

TEST(CertifiedKey, FailuresHaveTypedErrors) {
    struct Case { const char *cert, *key; tlsb_result code; const char *needle; };
    for (const Case &c : {Case{"rsa.crt", "other-rsa.key", TLSB_ERR_KEY_MISMATCH, "does not match"},
                          Case{"rsa.crt", "encrypted.key", TLSB_ERR_PEM, "encrypted"},
                          Case{"rsa1024.crt", "rsa1024.key", TLSB_ERR_KEY, "2048"},
                          Case{"rsa.key", "rsa.key", TLSB_ERR_PEM, "no certificate"}}) {
        const std::string cert = slurp(c.cert), key = slurp(c.key);
        auto r = tls::CertifiedKey::from_pem(std::span<const char>(cert), std::span<const char>(key));
        ASSERT_FALSE(r.ok()) << c.cert << " + " << c.key;
        EXPECT_EQ(r.error().code(), c.code) << c.key << ": " << r.error().message();
        EXPECT_NE(r.error().message().find(c.needle), std::string::npos) << r.error().message();
    }
}

TEST(ServerConfig, NeedsAKey) {
    tls::ServerConfigParams params;
    auto r = tls::ServerConfig::build(params);
    ASSERT_FALSE(r.ok());
}

}  // namespace
