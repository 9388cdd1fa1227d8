// The TLS filter layer (src/filters/tls_stream.cpp, the real file) with real APR brigades, fed by
// a real OpenSSL client in memory. The input decides everything else: the client's versions,
// how the client's bytes are split into reads and buckets (heap, transient, pool, immortal,
// interleaved FLUSH), EAGAIN/EOF/errors from the network, the read modes and sizes Apache would
// ask for, how response plaintext is split into buckets (with FLUSH/EOC), client renegotiation,
// key updates, close_notify and corrupted bytes.
// Oracle: plaintext the server hands up is always a prefix of what the client sent, and the
// client never decrypts anything but a prefix of what the server wrote.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "filters/tls_stream.h"
#include "fuzz_keys.h"
#include "httpd_stand_ins.h"
#include "input_reader.h"

namespace {

void require(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz: invariant broken: %s\n", what);
        std::abort();
    }
}

bool is_prefix(const std::string &part, const std::string &whole) {
    return part.size() <= whole.size() && whole.compare(0, part.size(), part) == 0;
}

SSL_CTX *g_client_ctx = nullptr;
apr_pool_t *g_root = nullptr;

class Session final : public stand_ins::Network {
public:
    Session(fuzz::InputReader &in, apr_pool_t *pool) : in_(in), pool_(pool) {
        ssl_ = SSL_new(g_client_ctx);
        BIO *rbio = BIO_new(BIO_s_mem());
        BIO *wbio = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl_, rbio, wbio);  // ssl_ owns both
        to_client_ = rbio;
        from_client_ = wbio;
        const uint8_t setup = in_.u8();
        static const int kVersions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
        const int lo = kVersions[setup & 1];
        const int hi = kVersions[(setup >> 1) & 1];
        SSL_set_min_proto_version(ssl_, std::min(lo, hi));
        SSL_set_max_proto_version(ssl_, std::max(lo, hi));
        if (setup & 4) SSL_set_tlsext_host_name(ssl_, "localhost");
        if (setup & 8) {
            static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
            SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn - 1);
        }
        if (setup & 16) SSL_set_cipher_list(ssl_, "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256");
        SSL_set_connect_state(ssl_);
        config_choice_ = in_.u8();
    }
    ~Session() override { SSL_free(ssl_); }

    // ---- the network below the TLS filters ----------------------------------------------
    apr_status_t read(apr_bucket_brigade *bb, ap_input_mode_t, apr_read_type_e block,
                      apr_off_t readbytes) override {
        if (++reads_ > 4000 || in_.done()) return APR_EOF;
        const uint8_t how = in_.u8();
        if (how == 0xfe) return APR_TIMEUP;
        if (how == 0xfd) return APR_ECONNRESET;
        if (how == 0xfc) {
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
            return APR_SUCCESS;
        }
        pull_from_client();
        if (pending_.empty()) {
            client_step();  // the client may have something to say after what it received
            pull_from_client();
        }
        if (pending_.empty()) return block == APR_NONBLOCK_READ ? APR_EAGAIN : APR_TIMEUP;
        if (block == APR_NONBLOCK_READ && how == 0xfb) return APR_EAGAIN;
        if (how == 0xfa) pending_[in_.u16() % pending_.size()] ^= static_cast<char>(in_.u8() | 1);
        size_t n = std::min(pending_.size(), static_cast<size_t>(readbytes > 0 ? readbytes : 1));
        n = std::min(n, static_cast<size_t>(1 + (how & 0x3f) * 97 + in_.u8()));
        // Split those n bytes into buckets of several kinds.
        size_t off = 0;
        while (off < n) {
            const uint8_t kind = in_.u8();
            const size_t len = std::min(n - off, static_cast<size_t>(1 + in_.u16() % 4096));
            const char *src = pending_.data() + off;
            apr_bucket *b = nullptr;
            switch (kind % 4) {
                case 0: b = apr_bucket_heap_create(src, len, nullptr, bb->bucket_alloc); break;
                case 1: b = apr_bucket_pool_create(static_cast<const char *>(apr_pmemdup(pool_, src, len)), len, pool_, bb->bucket_alloc); break;
                case 2: b = apr_bucket_immortal_create(static_cast<const char *>(apr_pmemdup(pool_, src, len)), len, bb->bucket_alloc); break;
                default: b = apr_bucket_transient_create(static_cast<const char *>(apr_pmemdup(pool_, src, len)), len, bb->bucket_alloc); break;
            }
            APR_BRIGADE_INSERT_TAIL(bb, b);
            if (kind & 0x80) APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(bb->bucket_alloc));
            off += len;
        }
        pending_.erase(0, n);
        return APR_SUCCESS;
    }

    apr_status_t write(apr_bucket_brigade *bb) override {
        for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_METADATA(b)) continue;
            const char *data = nullptr;
            apr_size_t len = 0;
            require(apr_bucket_read(b, &data, &len, APR_BLOCK_READ) == APR_SUCCESS, "bucket read");
            if (len > 0) BIO_write(to_client_, data, static_cast<int>(len));
        }
        apr_brigade_cleanup(bb);
        return APR_SUCCESS;
    }

    // ---- the client ---------------------------------------------------------------------
    void client_step() {
        if (client_dead_) return;
        if (!SSL_is_init_finished(ssl_)) {
            if (SSL_do_handshake(ssl_) <= 0) check_client_error();
            return;
        }
        char buf[16384];
        for (;;) {
            const int n = SSL_read(ssl_, buf, sizeof buf);
            if (n <= 0) {
                check_client_error();
                break;
            }
            client_got_.append(buf, static_cast<size_t>(n));
            if (!poisoned_) require(is_prefix(client_got_, server_sent_), "client got what the server wrote");
        }
    }

    void client_action() {
        const uint8_t what = in_.u8();
        client_step();
        if (client_dead_ || !SSL_is_init_finished(ssl_)) return;
        switch (what % 6) {
            case 0: case 1: case 2: {  // request bytes, often with lines
                std::string data;
                const size_t len = in_.u16() % 20000;
                for (size_t i = 0; i < len; ++i) data.push_back((i % 61 == 60) ? '\n' : static_cast<char>('a' + i % 26));
                if (!data.empty() && SSL_write(ssl_, data.data(), static_cast<int>(data.size())) > 0)
                    client_sent_ += data;
                break;
            }
            case 3:
                if (SSL_version(ssl_) == TLS1_2_VERSION) SSL_renegotiate(ssl_);
                else SSL_key_update(ssl_, SSL_KEY_UPDATE_REQUESTED);
                SSL_do_handshake(ssl_);
                break;
            case 4: SSL_shutdown(ssl_); break;
            default: break;
        }
        ERR_clear_error();
    }

    // ---- the server side: the stream under test -------------------------------------------
    void server_read(mod_tls::TlsStream &stream) {
        static const ap_input_mode_t kModes[] = {AP_MODE_READBYTES, AP_MODE_GETLINE,
                                                 AP_MODE_SPECULATIVE, AP_MODE_EXHAUSTIVE,
                                                 AP_MODE_INIT, AP_MODE_EATCRLF};
        const uint8_t m = in_.u8();
        const ap_input_mode_t mode = kModes[m % 6];
        const apr_read_type_e block = (m & 0x80) ? APR_NONBLOCK_READ : APR_BLOCK_READ;
        const apr_off_t readbytes = in_.u16();
        apr_bucket_brigade *bb = apr_brigade_create(pool_, bucket_alloc());
        (void)stream.read(bb, mode, block, readbytes);
        std::string got;
        for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data = nullptr;
            apr_size_t len = 0;
            if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ) == APR_SUCCESS) got.append(data, len);
        }
        apr_brigade_destroy(bb);
        if (mode == AP_MODE_SPECULATIVE) {
            require(is_prefix(server_got_ + got, client_sent_), "speculative read is client data");
        } else {
            server_got_ += got;
            require(is_prefix(server_got_, client_sent_), "server got what the client sent");
        }
    }

    void server_write(mod_tls::TlsStream &stream) {
        apr_bucket_brigade *bb = apr_brigade_create(pool_, bucket_alloc());
        const unsigned buckets = in_.u8() % 8;
        std::string written;
        for (unsigned i = 0; i < buckets; ++i) {
            const uint8_t kind = in_.u8();
            const size_t len = (kind & 0x40) ? in_.u16() : in_.u8();
            std::string data(len, static_cast<char>('A' + i));
            if (kind % 4 == 3) {
                APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(bb->bucket_alloc));
                continue;
            }
            apr_bucket *b = (kind % 4 == 0)
                ? apr_bucket_heap_create(data.data(), data.size(), nullptr, bb->bucket_alloc)
                : apr_bucket_pool_create(static_cast<const char *>(apr_pmemdup(pool_, data.data(), data.size())),
                                         data.size(), pool_, bb->bucket_alloc);
            APR_BRIGADE_INSERT_TAIL(bb, b);
            written += data;
        }
        if (in_.u8() == 0xee) APR_BRIGADE_INSERT_TAIL(bb, stand_ins::eoc_bucket(bb->bucket_alloc));
        const bool was_failed = stream.failed();
        const apr_status_t rv = stream.write(bb);
        // Whatever the stream took before failing may be on its way; count it as written only
        // when the stream accepted it.
        if (!was_failed && rv == APR_SUCCESS) server_sent_ += written;
        else poisoned_ = true;  // partial writes: the client oracle no longer knows the prefix
        apr_brigade_cleanup(bb);
    }

    mod_tls::TlsStream::Callbacks callbacks() {
        return {on_hello, on_done, on_failure, this, nullptr, "client"};
    }
    apr_bucket_alloc_t *bucket_alloc() const { return alloc_; }
    void set_bucket_alloc(apr_bucket_alloc_t *a) { alloc_ = a; }
    bool poisoned() const { return poisoned_; }

private:
    static tls::Status on_hello(void *ctx, tls::Connection &session) {
        auto *self = static_cast<Session *>(ctx);
        const tls::ClientHello hello = session.client_hello();
        for (std::string_view p : hello.alpn) require(p.size() <= 255, "ALPN length");
        if (self->config_choice_ == 0xff) return session.reject(112);
        static const char *const kAlpn[] = {"", "h2", "http/1.1"};
        return session.select_config(fuzz::server_config(self->config_choice_),
                                     kAlpn[(self->config_choice_ >> 4) % 3]);
    }
    static void on_done(void *, tls::Connection &session) {
        require(session.protocol_version() != 0, "version known after the handshake");
    }
    static void on_failure(void *, const tls::Error &error, bool) {
        require(!error.describe().empty(), "failure described");
    }

    void pull_from_client() {
        char buf[16384];
        int n;
        while ((n = BIO_read(from_client_, buf, sizeof buf)) > 0) pending_.append(buf, static_cast<size_t>(n));
    }
    void check_client_error() {
        const int e = SSL_get_error(ssl_, -1);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) client_dead_ = true;
        ERR_clear_error();
    }

    fuzz::InputReader &in_;
    apr_pool_t *pool_;
    apr_bucket_alloc_t *alloc_ = nullptr;
    SSL *ssl_ = nullptr;
    BIO *to_client_ = nullptr;
    BIO *from_client_ = nullptr;
    std::string pending_;       // client bytes not yet delivered to the server
    std::string client_sent_, server_got_, server_sent_, client_got_;
    unsigned reads_ = 0;
    uint8_t config_choice_ = 0;
    bool client_dead_ = false;
    bool poisoned_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    apr_initialize();
    apr_pool_create(&g_root, nullptr);
    mod_tls::TlsStream::register_filters();
    (void)fuzz::server_config(0);
    g_client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(g_client_ctx, SSL_VERIFY_NONE, nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::InputReader in(data, size);
    apr_pool_t *pool = nullptr;
    apr_pool_create(&pool, g_root);
    {
        conn_rec *c = stand_ins::make_connection(pool);
        Session s(in, pool);
        s.set_bucket_alloc(c->bucket_alloc);
        stand_ins::set_network(&s);
        auto server = tls::Connection::new_server();
        require(server.ok(), "new server connection");
        mod_tls::TlsStream stream(c, std::move(server.value()), s.callbacks());
        stream.add_filters();
        for (unsigned steps = 0; !in.done() && steps < 200; ++steps) {
            switch (in.u8() % 4) {
                case 0: s.client_action(); break;
                case 1: s.server_read(stream); break;
                case 2: s.server_write(stream); break;
                default: (void)stream.handshake(in.flag() ? APR_NONBLOCK_READ : APR_BLOCK_READ); break;
            }
            s.client_step();
        }
        stand_ins::set_network(nullptr);
    }
    apr_pool_destroy(pool);
    return 0;
}
