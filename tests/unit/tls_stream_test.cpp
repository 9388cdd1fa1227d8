// The TLS output filter's flush policy (src/filters/tls_stream.cpp, the real file) on real APR
// brigades, with the httpd stand-ins (tests/support) for filter chaining and the EOR/EOC bucket
// types. An OpenSSL client in memory completes a handshake with a server TlsStream; the tests
// then write brigades into TLS_OUT and check what the filter below it receives, bucket by bucket
// (TLS data, FLUSH, EOR, EOC), and what the client decrypts from those bytes.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "filters/tls_stream.h"
#include "httpd_stand_ins.h"
#include "rustls/certified_key.h"
#include "rustls/server_config.h"
#include "test_data.h"

namespace {

using test_data::slurp;

struct SslCtxFree { void operator()(SSL_CTX *p) const { SSL_CTX_free(p); } };
struct SslFree { void operator()(SSL *p) const { SSL_free(p); } };

// The network below TLS_IN/TLS_OUT, with an OpenSSL client at its far end. Reads hand the
// server what the client sent; writes record each bucket (the trace) and give the TLS bytes
// to the client.
class ClientNetwork final : public stand_ins::Network {
public:
    explicit ClientNetwork(int version) {
        ctx_.reset(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_set_min_proto_version(ctx_.get(), version);
        SSL_CTX_set_max_proto_version(ctx_.get(), version);
        SSL_CTX_load_verify_locations(ctx_.get(), (test_data::kDir + "ca.crt").c_str(), nullptr);
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
        ssl_.reset(SSL_new(ctx_.get()));
        to_client_ = BIO_new(BIO_s_mem());
        from_client_ = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl_.get(), to_client_, from_client_);  // ssl owns both BIOs now
        SSL_set_connect_state(ssl_.get());
        // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
        SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char *>("localhost"));
    }

    apr_status_t read(apr_bucket_brigade *bb, ap_input_mode_t, apr_read_type_e block,
                      apr_off_t readbytes) override {
        if (pending_.empty()) {
            if (!SSL_is_init_finished(ssl_.get())) SSL_do_handshake(ssl_.get());
            ERR_clear_error();
            char buf[16384];
            int n;
            while ((n = BIO_read(from_client_, buf, sizeof buf)) > 0)
                pending_.append(buf, static_cast<size_t>(n));
        }
        if (pending_.empty()) return block == APR_NONBLOCK_READ ? APR_EAGAIN : APR_EOF;
        size_t n = pending_.size();
        if (readbytes > 0) n = std::min(n, static_cast<size_t>(readbytes));
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(pending_.data(), n, nullptr,
                                                           bb->bucket_alloc));
        pending_.erase(0, n);
        return APR_SUCCESS;
    }

    apr_status_t write(apr_bucket_brigade *bb) override {
        for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_TRANSIENT(b)) transient_bytes_ += b->length;
        }
        if (refusal_ != APR_SUCCESS) {  // the peer is gone: the core filter drops the brigade
            apr_brigade_cleanup(bb);
            return refusal_;
        }
        if (held_ != nullptr) {
            // As the core filter does when the socket is full: set everything aside (transient
            // buckets are copied), send it later.
            for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
                 b = APR_BUCKET_NEXT(b))
                EXPECT_EQ(apr_bucket_setaside(b, hold_pool_), APR_SUCCESS);
            APR_BRIGADE_CONCAT(held_, bb);
            return APR_SUCCESS;
        }
        send(bb);
        return APR_SUCCESS;
    }

    // From now on, write() keeps what it gets (set aside in pool) until release().
    void hold(apr_pool_t *pool, apr_bucket_alloc_t *alloc) {
        hold_pool_ = pool;
        held_ = apr_brigade_create(pool, alloc);
    }
    void release() {
        apr_bucket_brigade *held = std::exchange(held_, nullptr);
        send(held);
    }

    // From now on, write() fails with rv, as the core filter does once the peer is gone.
    void refuse_writes(apr_status_t rv) { refusal_ = rv; }

    // TLS bytes that arrived in transient buckets (lent, not copied, by TLS_OUT).
    size_t transient_bytes() const { return transient_bytes_; }

    // What reached the network since the last take_trace(): "data" for TLS bytes (however many
    // buckets in a row), "FLUSH", "EOR", "EOC", in order, separated by spaces.
    std::string take_trace() {
        std::string t = std::move(trace_);
        trace_.clear();
        last_.clear();
        return t;
    }
    size_t tls_bytes() const { return tls_bytes_; }

    // Plaintext the client can decrypt from what it has received so far.
    std::string client_read() {
        std::string got;
        char buf[16384];
        for (;;) {
            const int n = SSL_read(ssl_.get(), buf, sizeof buf);
            if (n <= 0) {
                last_error_ = SSL_get_error(ssl_.get(), n);
                ERR_clear_error();
                break;
            }
            got.append(buf, static_cast<size_t>(n));
        }
        return got;
    }
    int last_error() const { return last_error_; }
    bool client_saw_close_notify() const {
        return (SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN) != 0;
    }
    bool client_handshake_done() const { return SSL_is_init_finished(ssl_.get()) != 0; }
    long client_verify_result() const { return SSL_get_verify_result(ssl_.get()); }

private:
    // Records each bucket in the trace and gives the TLS bytes to the client.
    void send(apr_bucket_brigade *bb) {
        for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_FLUSH(b)) {
                note("FLUSH");
            } else if (AP_BUCKET_IS_EOR(b)) {
                note("EOR");
            } else if (AP_BUCKET_IS_EOC(b)) {
                note("EOC");
            } else if (APR_BUCKET_IS_METADATA(b)) {
                note("other-metadata");
            } else {
                const char *data = nullptr;
                apr_size_t len = 0;
                EXPECT_EQ(apr_bucket_read(b, &data, &len, APR_BLOCK_READ), APR_SUCCESS);
                if (len == 0) continue;
                if (last_ != "data") note("data");  // consecutive TLS buckets: one entry
                BIO_write(to_client_, data, static_cast<int>(len));
                tls_bytes_ += len;
            }
        }
        apr_brigade_cleanup(bb);
    }

    void note(const char *what) {
        if (!trace_.empty()) trace_ += ' ';
        trace_ += what;
        last_ = what;
    }

    std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
    std::unique_ptr<SSL, SslFree> ssl_;
    BIO *to_client_ = nullptr;
    BIO *from_client_ = nullptr;
    std::string pending_;  // client bytes not yet read by the server
    std::string trace_;
    std::string last_;
    size_t tls_bytes_ = 0;
    size_t transient_bytes_ = 0;
    apr_pool_t *hold_pool_ = nullptr;
    apr_bucket_brigade *held_ = nullptr;  // set while holding
    apr_status_t refusal_ = APR_SUCCESS;
    int last_error_ = SSL_ERROR_NONE;
};

// A piece of a brigade written into TLS_OUT.
struct Piece {
    enum Kind { kData, kFlush, kEor, kEoc } kind;
    std::string data;
};
Piece data(size_t n, char fill = 'x') { return {Piece::kData, std::string(n, fill)}; }
Piece data(std::string s) { return {Piece::kData, std::move(s)}; }
const Piece kFlush{Piece::kFlush, {}};
const Piece kEor{Piece::kEor, {}};
const Piece kEoc{Piece::kEoc, {}};

constexpr size_t kSmall = 1024;           // a small response: headers and a little body
constexpr size_t kLarge = 20 * 1024;      // more than kFlushAtEndOfResponse (16.5 KiB) in TLS
constexpr size_t kOneRecord = 16 * 1024;  // one full record's plaintext: still flushed

// TLS 1.2 and TLS 1.3 (the parameter is OpenSSL's and the bridge's version number).
class TlsStreamFlush : public ::testing::TestWithParam<int> {
protected:
    static void SetUpTestSuite() {
        ASSERT_EQ(apr_initialize(), APR_SUCCESS);
        mod_tls::TlsStream::register_filters();
    }
    static void TearDownTestSuite() { apr_terminate(); }

    void SetUp() override {
        const std::string cert = slurp("ecdsa-p256.crt"), key = slurp("ecdsa-p256.key");
        auto k = tls::CertifiedKey::from_pem(std::span<const char>(cert),
                                             std::span<const char>(key));
        ASSERT_TRUE(k.ok()) << k.error().describe();
        key_ = std::make_unique<tls::CertifiedKey>(std::move(k.value()));
        tls::ServerConfigParams params;
        params.keys = {key_.get()};
        params.versions = {static_cast<uint16_t>(GetParam())};
        auto config = tls::ServerConfig::build(params);
        ASSERT_TRUE(config.ok()) << config.error().describe();
        config_ = std::make_unique<tls::ServerConfig>(std::move(config.value()));

        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        c_ = stand_ins::make_connection(pool_);
        net_ = std::make_unique<ClientNetwork>(GetParam());
        stand_ins::set_network(net_.get());
        auto session = tls::Connection::new_server();
        ASSERT_TRUE(session.ok());
        stream_ = std::make_unique<mod_tls::TlsStream>(
            c_, std::move(session.value()),
            mod_tls::TlsStream::Callbacks{on_hello, on_done, on_failure, this, nullptr,
                                          "client"});
        stream_->add_filters();

        ASSERT_EQ(stream_->handshake(APR_BLOCK_READ), APR_SUCCESS) << failure_;
        ASSERT_TRUE(stream_->handshake_done());
        ASSERT_EQ(stream_->session().protocol_version(), GetParam());
        // The client reads the server's last flight (and TLS 1.3 tickets).
        EXPECT_EQ(net_->client_read(), "");
        ASSERT_TRUE(net_->client_handshake_done());
        ASSERT_EQ(net_->client_verify_result(), X509_V_OK);
        // The handshake's own flights end with a FLUSH: the count starts from zero.
        const std::string handshake_trace = net_->take_trace();
        ASSERT_TRUE(handshake_trace.ends_with("FLUSH")) << handshake_trace;
    }

    void TearDown() override {
        stream_.reset();
        stand_ins::set_network(nullptr);
        net_.reset();
        if (pool_ != nullptr) apr_pool_destroy(pool_);
    }

    // Writes one brigade of pieces into TLS_OUT; returns the plaintext it carried.
    std::string write(const std::vector<Piece> &pieces) {
        apr_bucket_brigade *bb = apr_brigade_create(pool_, c_->bucket_alloc);
        std::string plain;
        for (const Piece &p : pieces) {
            apr_bucket *b = nullptr;
            switch (p.kind) {
                case Piece::kData:
                    // Heap buckets copy the data (free function nullptr), as handlers' are.
                    b = apr_bucket_heap_create(p.data.data(), p.data.size(), nullptr,
                                               c_->bucket_alloc);
                    plain += p.data;
                    break;
                case Piece::kFlush: b = apr_bucket_flush_create(c_->bucket_alloc); break;
                case Piece::kEor: b = stand_ins::eor_bucket(c_->bucket_alloc); break;
                case Piece::kEoc: b = stand_ins::eoc_bucket(c_->bucket_alloc); break;
            }
            APR_BRIGADE_INSERT_TAIL(bb, b);
        }
        EXPECT_EQ(stream_->write(bb), APR_SUCCESS);
        EXPECT_TRUE(APR_BRIGADE_EMPTY(bb)) << "TLS_OUT left buckets in the caller's brigade";
        apr_brigade_destroy(bb);
        return plain;
    }

    static tls::Status on_hello(void *ctx, tls::Connection &session) {
        auto *self = static_cast<TlsStreamFlush *>(ctx);
        return session.select_config(*self->config_, "");
    }
    static void on_done(void *, tls::Connection &) {}
    static void on_failure(void *ctx, const tls::Error &error, bool) {
        static_cast<TlsStreamFlush *>(ctx)->failure_ = error.describe();
    }

    std::unique_ptr<tls::CertifiedKey> key_;
    std::unique_ptr<tls::ServerConfig> config_;
    apr_pool_t *pool_ = nullptr;
    conn_rec *c_ = nullptr;
    std::unique_ptr<ClientNetwork> net_;
    std::unique_ptr<mod_tls::TlsStream> stream_;
    std::string failure_;
};

// 1. A small response ends with EOR: its record(s) go below, then the EOR, then a FLUSH, so the
//    core filter writes it at once instead of keeping it until write completion.
TEST_P(TlsStreamFlush, SmallResponseIsFlushedAfterEor) {
    const std::string sent =
        write({data("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"), data(kSmall, 'b'), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR FLUSH");
    EXPECT_EQ(net_->client_read(), sent);
}

// Up to one full record's worth of TLS since the last flush still gets the FLUSH.
TEST_P(TlsStreamFlush, OneFullRecordIsFlushedAfterEor) {
    const std::string sent = write({data(kOneRecord), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR FLUSH");
    EXPECT_EQ(net_->client_read(), sent);
}

// 2. A larger response is left to the core's non-blocking write completion: EOR passed below,
//    no FLUSH after it.
TEST_P(TlsStreamFlush, LargeResponseIsNotFlushedAfterEor) {
    const std::string sent = write({data(kLarge), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR");
    EXPECT_GT(net_->tls_bytes(), size_t{16 * 1024 + 512});
    EXPECT_EQ(net_->client_read(), sent);
}

// The count spans write() calls: two 10 KiB writes add up to more than the limit.
TEST_P(TlsStreamFlush, OutputOfEarlierWritesCountsTowardsTheLimit) {
    std::string sent = write({data(10 * 1024, 'a')});
    EXPECT_EQ(net_->take_trace(), "data");
    sent += write({data(10 * 1024, 'b'), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR");
    EXPECT_EQ(net_->client_read(), sent);
}

// The count covers every response since the last flush: after an unflushed large response, a
// small one's EOR does not flush either (the large one's bytes may still wait in the core).
// The MPM writes a large response out before the next request is read (write completion), so
// the count starts afresh with each response: a small response after a large one is flushed.
TEST_P(TlsStreamFlush, SmallResponseAfterUnflushedLargeOneIsFlushed) {
    std::string sent = write({data(kLarge), kEor});
    sent += write({data(kSmall), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR data EOR FLUSH");
    EXPECT_EQ(net_->client_read(), sent);
}

// The large response's bytes and its EOR go below at its EOR, even when they came in the same
// call as the next response (pipelining): the next response is counted on its own.
TEST_P(TlsStreamFlush, PipelinedSmallResponseAfterLargeOneIsFlushed) {
    const std::string sent = write({data(kLarge), kEor, data(kSmall), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR data EOR FLUSH");
    EXPECT_EQ(net_->client_read(), sent);
}

// 3. A FLUSH from above is passed below after the data before it, and resets the count: the
//    next small response is flushed again.
TEST_P(TlsStreamFlush, FlushIsPassedInOrderAndResetsTheCount) {
    std::string sent = write({data(kSmall, 'a'), kFlush, data(kSmall, 'b')});
    EXPECT_EQ(net_->take_trace(), "data FLUSH data");
    sent += write({data(kLarge, 'c'), kFlush});
    EXPECT_EQ(net_->take_trace(), "data FLUSH");
    sent += write({data(kSmall, 'd'), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR FLUSH");
    EXPECT_EQ(net_->client_read(), sent);
}

// Our own FLUSH (at an EOR) resets the count too: small responses one after another are each
// flushed.
TEST_P(TlsStreamFlush, EverySmallResponseIsFlushed) {
    std::string sent;
    for (char fill : {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n'}) {
        sent += write({data(4000, fill), kEor});
        EXPECT_EQ(net_->take_trace(), "data EOR FLUSH") << "response " << fill;
    }
    EXPECT_EQ(net_->client_read(), sent);
}

// 4. Nothing is held between write() calls (tunnels rely on it): a small write without any
//    metadata is below, decryptable, when write() returns; no FLUSH is added.
TEST_P(TlsStreamFlush, SmallWriteIsPassedBelowBeforeWriteReturns) {
    const std::string first = write({data(100, 'a')});
    EXPECT_EQ(net_->take_trace(), "data");
    EXPECT_EQ(net_->client_read(), first);
    const std::string second = write({data(10, 'b'), data(20, 'c')});
    EXPECT_EQ(net_->take_trace(), "data");
    EXPECT_EQ(net_->client_read(), second);
}

// 5. EOC: close_notify goes below, flushed, before the EOC (after the response's data).
// A connection that will close gets no flush at EOR: its close_notify flush at EOC carries the
// response as well, in one write.
TEST_P(TlsStreamFlush, ClosingConnectionIsFlushedAtEocNotAtEor) {
    c_->keepalive = AP_CONN_CLOSE;
    const std::string sent = write({data(kSmall, 'c'), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR");
    write({kEoc});
    EXPECT_EQ(net_->take_trace(), "data FLUSH EOC");
    EXPECT_EQ(net_->client_read(), sent);
    EXPECT_TRUE(net_->client_saw_close_notify());
}

TEST_P(TlsStreamFlush, EocSendsCloseNotifyAndFlushes) {
    const std::string sent = write({data(kLarge), kEor});
    EXPECT_EQ(net_->take_trace(), "data EOR");
    write({kEoc});
    EXPECT_EQ(net_->take_trace(), "data FLUSH EOC");
    EXPECT_EQ(net_->client_read(), sent);
    EXPECT_EQ(net_->last_error(), SSL_ERROR_ZERO_RETURN);
    EXPECT_TRUE(net_->client_saw_close_notify());
}

// 6. Copies. Full records go below uncopied (transient buckets, valid only during the call),
//    before write() returns; smaller output is copied into TLS_OUT's own buckets, so it can wait
//    for the end of the response.
TEST_P(TlsStreamFlush, FullRecordsGoBelowUncopied) {
    const std::string sent = write({data(64 * 1024)});
    EXPECT_GE(net_->transient_bytes(), size_t{64 * 1024});  // four full records and overhead
    EXPECT_EQ(net_->client_read(), sent);
}

TEST_P(TlsStreamFlush, SmallOutputIsCopied) {
    const std::string sent = write({data(kSmall), kEor, data(8 * 1024), kFlush});
    EXPECT_EQ(net_->take_trace(), "data EOR FLUSH data FLUSH");
    EXPECT_EQ(net_->transient_bytes(), size_t{0});
    EXPECT_EQ(net_->client_read(), sent);
}

// The layer below may keep lent records past the call (the core filter sets them aside when the
// socket is full): what it set aside is exactly what the client decrypts later.
TEST_P(TlsStreamFlush, LentRecordsSetAsideBelowStayIntact) {
    net_->hold(pool_, c_->bucket_alloc);
    std::string sent = write({data(40 * 1024, 'a')});
    sent += write({data(70 * 1024, 'b'), kEor});
    sent += write({data(kSmall, 'c'), kEor});
    EXPECT_GT(net_->transient_bytes(), size_t{0});
    net_->release();
    EXPECT_EQ(net_->take_trace(), "data EOR data EOR FLUSH");
    EXPECT_EQ(net_->client_read(), sent);
}

// A temporary file (deleted when pool goes) holding `content`.
apr_file_t *temp_file(const std::string &content, apr_pool_t *pool) {
    char name[] = "/tmp/modtls-unit-XXXXXX";
    apr_file_t *file = nullptr;
    EXPECT_EQ(apr_file_mktemp(&file, name, 0, pool), APR_SUCCESS);  // deleted on close
    apr_size_t written = 0;
    EXPECT_EQ(apr_file_write_full(file, content.data(), content.size(), &written), APR_SUCCESS);
    return file;
}

// The peer is gone while full records are lent: the error from below comes back from write()
// at once (no crash, nothing kept, nothing more encrypted), and the caller's brigade is emptied.
TEST_P(TlsStreamFlush, PeerGoneWhileLendingFailsTheWrite) {
    net_->refuse_writes(APR_ECONNRESET);
    const std::string body(256 * 1024, 'g');  // four batches of four records
    apr_bucket_brigade *bb = apr_brigade_create(pool_, c_->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(body.data(), body.size(), nullptr,
                                                       c_->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, stand_ins::eor_bucket(c_->bucket_alloc));
    EXPECT_EQ(stream_->write(bb), APR_ECONNRESET);
    EXPECT_TRUE(APR_BRIGADE_EMPTY(bb));
    apr_brigade_destroy(bb);
    // Only the first batch's four records were offered (with at most 64 bytes of overhead
    // each): neither again nor the later batches after the refusal.
    EXPECT_GE(net_->transient_bytes(), size_t{64 * 1024});
    EXPECT_LE(net_->transient_bytes(), size_t{64 * 1024 + 4 * 64});
}

// Files arrive whole, from the bucket's offset: small ones (read with pread) and large ones
// (mapped by APR) alike, also when they share one descriptor as byte ranges do.
TEST_P(TlsStreamFlush, FileBucketsAreSentFromTheirOffset) {
    std::string content(200 * 1024, '\0');
    for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i * 7 % 26);
    apr_file_t *file = temp_file(content, pool_);
    struct Range { size_t start, length; };
    const Range ranges[] = {{0, 1024}, {3, APR_BUCKET_BUFF_SIZE}, {100, 16 * 1024},
                            {5000, 16 * 1024 + 1}, {1, 100 * 1024}, {77, 0}};
    std::string expected;
    apr_bucket_brigade *bb = apr_brigade_create(pool_, c_->bucket_alloc);
    for (const Range &r : ranges) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_file_create(file, static_cast<apr_off_t>(r.start),
                                                           r.length, pool_, c_->bucket_alloc));
        expected += content.substr(r.start, r.length);
    }
    APR_BRIGADE_INSERT_TAIL(bb, stand_ins::eor_bucket(c_->bucket_alloc));
    EXPECT_EQ(stream_->write(bb), APR_SUCCESS);
    apr_brigade_destroy(bb);
    EXPECT_EQ(net_->client_read(), expected);
}

// A file with an APR write buffer may hold bytes not yet in the file: APR's own read (which
// flushes the buffer first) is used for it.
TEST_P(TlsStreamFlush, BufferedFileIsReadThroughApr) {
    char name[] = "/tmp/modtls-unit-XXXXXX";
    apr_file_t *file = nullptr;
    ASSERT_EQ(apr_file_mktemp(&file, name,
                              APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE |
                                  APR_FOPEN_EXCL | APR_FOPEN_DELONCLOSE | APR_FOPEN_BUFFERED,
                              pool_),
              APR_SUCCESS);
    const std::string content(1000, 'u');
    apr_size_t written = 0;
    ASSERT_EQ(apr_file_write_full(file, content.data(), content.size(), &written), APR_SUCCESS);
    apr_bucket_brigade *bb = apr_brigade_create(pool_, c_->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_file_create(file, 0, content.size(), pool_,
                                                       c_->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, stand_ins::eor_bucket(c_->bucket_alloc));
    EXPECT_EQ(stream_->write(bb), APR_SUCCESS);
    apr_brigade_destroy(bb);
    EXPECT_EQ(net_->client_read(), content);
}

// A file that is shorter than its bucket says (it shrank after the response began) fails the
// write instead of sending what is not there.
TEST_P(TlsStreamFlush, ShrunkFileFailsTheWrite) {
    apr_file_t *file = temp_file(std::string(1000, 'f'), pool_);
    apr_bucket_brigade *bb = apr_brigade_create(pool_, c_->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_file_create(file, 0, 2000, pool_, c_->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, stand_ins::eor_bucket(c_->bucket_alloc));
    EXPECT_EQ(stream_->write(bb), APR_EOF);
    EXPECT_TRUE(APR_BRIGADE_EMPTY(bb));
    apr_brigade_destroy(bb);
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsStreamFlush,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int> &param) {
                             return std::string(param.param == TLS1_2_VERSION ? "TLS12"
                                                                             : "TLS13");
                         });

}  // namespace
