// The TLS layer of one connection as APR sees it: TLS bytes from the filters below are fed to the
// session, plaintext is handed up; plaintext from above is encrypted and passed down. This is the
// only code (with the two filters) that touches buckets and brigades.
#pragma once

#include <string>

#include "apache/includes.h"
#include "filters/plain_buffer.h"
#include "rustls/connection.h"

namespace mod_tls {

// Called once when the ClientHello is in: choose the host, then select_config() or reject().
using HelloHandler = tls::Status (*)(void *ctx, tls::Connection &session);
// Called once when the handshake completes.
using HandshakeDoneHandler = void (*)(void *ctx, tls::Connection &session);
// Called once when the connection fails (before or after the handshake): report it.
using FailureHandler = void (*)(void *ctx, const tls::Error &error, bool during_handshake);
// Client side: called once before the first read or write, to start the handshake.
using StartHandler = tls::Status (*)(void *ctx, tls::Connection &session);

class TlsStream {
public:
    struct Callbacks {
        HelloHandler on_hello;
        HandshakeDoneHandler on_done;
        FailureHandler on_failure;
        void *ctx;
        StartHandler on_start;  // nullptr for server connections
        const char *peer;       // "client" or "backend", for error messages
    };

    TlsStream(conn_rec *c, tls::Connection session, Callbacks callbacks);
    TlsStream(const TlsStream &) = delete;
    TlsStream &operator=(const TlsStream &) = delete;

    // Inserts the TLS input and output filters into c's filter chains.
    void add_filters();

    // Drives the handshake to completion (no-op when done). APR_SUCCESS, APR_EAGAIN for a
    // non-blocking read without data, or an error after which the connection is dead.
    apr_status_t handshake(apr_read_type_e block);

    // Input filter: plaintext for the mode asked.
    apr_status_t read(apr_bucket_brigade *bb, ap_input_mode_t mode, apr_read_type_e block,
                      apr_off_t readbytes);
    // Output filter: encrypts bb's data, keeps metadata (FLUSH, EOS, EOC) in order.
    apr_status_t write(apr_bucket_brigade *bb);

    // The handshake took longer than it may: fails the connection (one log line).
    apr_status_t time_out();
    // The MPM closed the connection while the handshake waited: one log line, nothing sent.
    void abandon(const tls::Error &error);

    bool failed() const { return failed_; }
    bool handshake_done() const { return handshake_done_; }
    // Whether any plaintext came from the peer (a TLS 1.3 server refuses a client certificate
    // only after the client's side of the handshake is done: before data, that is a handshake
    // failure too).
    bool received_data() const { return received_data_; }
    tls::Connection &session() { return session_; }
    const tls::Connection &session() const { return session_; }
    conn_rec *connection() const { return c_; }

    // Registers the filter types with Apache (once, at register_hooks).
    static void register_filters();

private:
    size_t available() const { return plain_.size(); }
    std::string_view pending() const { return plain_.pending(); }
    void append_plain(apr_bucket_brigade *bb, size_t n, bool consume_it);

    apr_status_t ensure_plain(apr_read_type_e block);  // until some plaintext, EOF or error
    apr_status_t read_tls(apr_read_type_e block);      // one read from below, fed and processed
    apr_status_t feed(std::string_view tls_bytes);
    apr_status_t process();
    apr_status_t drain_plain();
    apr_status_t collect_tls();                        // session output -> out_ or below
    apr_status_t pass_out(bool flush);                 // out_ brigade -> filters below
    apr_status_t encrypt(std::string_view plain);
    apr_status_t write_data(std::string_view data);    // small writes gathered into records
    apr_status_t write_small_file(apr_bucket *file);   // read into the gathered small writes
    apr_status_t flush_small_writes();
    apr_status_t fail(const tls::Error &error);
    apr_status_t fail_io(apr_status_t rv);             // the transport refused our bytes

    conn_rec *c_;
    tls::Connection session_;
    Callbacks callbacks_;
    ap_filter_t *in_filter_ = nullptr;
    ap_filter_t *out_filter_ = nullptr;
    apr_bucket_brigade *in_;   // TLS bytes read from below
    apr_bucket_brigade *out_;  // TLS bytes (and metadata) to pass below
    PlainBuffer plain_;        // decrypted plaintext not yet handed up
    PlainBuffer small_writes_; // small plaintext writes gathered into one record
    apr_off_t out_bytes_ = 0;  // TLS bytes waiting in out_
    apr_off_t response_bytes_ = 0;  // TLS bytes of this response passed below since a FLUSH
    bool handshake_done_ = false;
    bool peer_closed_ = false; // no more plaintext will come (close_notify or EOF)
    bool failed_ = false;
    bool close_notify_sent_ = false;
    bool started_ = false;
    bool received_data_ = false;
};

}  // namespace mod_tls
