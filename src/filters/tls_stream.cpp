#include "filters/tls_stream.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <span>
#include <utility>

#include "apache/apr_error.h"

APLOG_USE_MODULE(tls);

namespace mod_tls {

namespace {

ap_filter_rec_t *g_input_filter = nullptr;
ap_filter_rec_t *g_output_filter = nullptr;

constexpr apr_off_t kReadChunk = 16 * 1024 + 512;   // a full TLS record and its header
constexpr size_t kRecordPlain = 16 * 1024;          // a full record's plaintext
// Batches of TLS output of at least a full record are handed down without a copy.
constexpr size_t kLendFrom = kRecordPlain;
constexpr apr_off_t kPassThreshold = 64 * 1024;     // hand TLS bytes down once this much waits
// Plaintext handed to the session at once: a few full records. Bigger slices (a file bucket can
// map 4 MiB) make rustls allocate and fault in megabytes of record buffers for every slice.
constexpr size_t kPlainSlice = 64 * 1024;
// Writes smaller than this are gathered (e.g. response headers with a small body) so that they
// leave in one record instead of one record each; up to one full record's worth.
constexpr size_t kSmallWrite = 4 * 1024;
// At the end of a response (EOR) its TLS bytes (since it began or since the last flush) are
// flushed when there are at most this many. The core filter keeps less than 4 KiB of heap buckets buffered
// until the MPM's write completion, i.e. until after the check for a pipelined request: the
// client would see a small response late, and the connection would always take the trip through
// the listener before its next request. A flush of one record's worth does not block on a
// reading client; more than that is left to the core's own (non-blocking) write completion.
constexpr apr_off_t kFlushAtEndOfResponse = 16 * 1024 + 512;
constexpr size_t kLineLimit = HUGE_STRING_LEN;      // as the core filter: longest line looked for

apr_status_t input_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                          apr_read_type_e block, apr_off_t readbytes) {
    return static_cast<TlsStream *>(f->ctx)->read(bb, mode, block, readbytes);
}

apr_status_t output_filter(ap_filter_t *f, apr_bucket_brigade *bb) {
    return static_cast<TlsStream *>(f->ctx)->write(bb);
}

// Copies of small TLS output come from the process heap, not the connection's allocator: Apache
// keeps freed allocator nodes per connection, and an idle connection should hold no TLS buffers.
void free_tls_buffer(void *buffer) { std::unique_ptr<char[]> owner(static_cast<char *>(buffer)); }

// A file bucket of up to one record whose descriptor has no APR buffer (one with a buffer may
// hold bytes that pread would not see).
bool is_small_unbuffered_file(const apr_bucket *b) {
    if (!APR_BUCKET_IS_FILE(b) || b->length > kRecordPlain) return false;
    return (apr_file_flags_get(static_cast<const apr_bucket_file *>(b->data)->fd) &
            APR_FOPEN_BUFFERED) == 0;
}

}  // namespace

void TlsStream::register_filters() {
    // Right above the core (network) filters, below everything that works on plaintext.
    g_input_filter = ap_register_input_filter("TLS_IN", input_filter, nullptr,
                                              static_cast<ap_filter_type>(AP_FTYPE_CONNECTION + 5));
    g_output_filter = ap_register_output_filter(
        "TLS_OUT", output_filter, nullptr, static_cast<ap_filter_type>(AP_FTYPE_CONNECTION + 5));
}

TlsStream::TlsStream(conn_rec *c, tls::Connection session, Callbacks callbacks)
    : c_(c), session_(std::move(session)), callbacks_(callbacks),
      in_(apr_brigade_create(c->pool, c->bucket_alloc)),
      out_(apr_brigade_create(c->pool, c->bucket_alloc)) {}

void TlsStream::add_filters() {
    in_filter_ = ap_add_input_filter_handle(g_input_filter, this, nullptr, c_);
    out_filter_ = ap_add_output_filter_handle(g_output_filter, this, nullptr, c_);
}

// ---- failure ---------------------------------------------------------------------------------

apr_status_t TlsStream::fail(const tls::Error &error) {
    if (failed_) return APR_ECONNABORTED;
    failed_ = true;
    // Send what the session queued (the alert), then give up on the connection.
    if (collect_tls() == APR_SUCCESS) pass_out(true);
    callbacks_.on_failure(callbacks_.ctx, error, !handshake_done_);
    c_->aborted = 1;
    return APR_ECONNABORTED;
}

apr_status_t TlsStream::fail_io(apr_status_t rv) {
    if (failed_) return APR_ECONNABORTED;
    return fail(tls::Error(TLSB_ERR_IO, std::string("sending to the ") + callbacks_.peer +
                                            " failed: " + apr_error(rv)));
}

apr_status_t TlsStream::time_out() {
    return fail(tls::Error(TLSB_ERR_IO, std::string("timed out waiting for the ") + callbacks_.peer));
}

void TlsStream::abandon(const tls::Error &error) {
    if (failed_ || handshake_done_) return;
    failed_ = true;
    callbacks_.on_failure(callbacks_.ctx, error, true);
}

// ---- TLS bytes out ---------------------------------------------------------------------------

apr_status_t TlsStream::collect_tls() {
    apr_status_t passed = APR_SUCCESS;
    auto sink = [this, &passed](std::span<const std::span<const char>> batch) {
        size_t total = 0;
        for (std::span<const char> record : batch) total += record.size();
        if (total == 0) return true;
        out_bytes_ += static_cast<apr_off_t>(total);
        if (total < kLendFrom) {
            // Copied, so it can wait in out_ and leave with what follows (the end of a small
            // response, the rest of a handshake flight). The bucket owns the copy.
            auto copy = std::make_unique_for_overwrite<char[]>(total);
            char *at = copy.get();
            for (std::span<const char> record : batch)
                at = std::copy(record.begin(), record.end(), at);
            APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_heap_create(copy.release(), total,
                                                                 free_tls_buffer, c_->bucket_alloc));
            return true;
        }
        // Full records go down uncopied, now: the batch lives only during this call, and the
        // core output filter writes a transient bucket or sets it aside (copies it) before it
        // returns, as it does for every filter's transient buckets.
        for (std::span<const char> record : batch) {
            APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_transient_create(record.data(), record.size(),
                                                                      c_->bucket_alloc));
        }
        passed = pass_out(false);
        return passed == APR_SUCCESS;
    };
    while (session_.wants_write()) {
        auto n = session_.send_tls(sink);
        if (!n) return passed != APR_SUCCESS ? passed : fail(n.error());
        if (n.value() == 0) break;
    }
    return APR_SUCCESS;
}

apr_status_t TlsStream::pass_out(bool flush) {
    if (flush) APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_flush_create(c_->bucket_alloc));
    if (APR_BRIGADE_EMPTY(out_)) return APR_SUCCESS;
    response_bytes_ = APR_BUCKET_IS_FLUSH(APR_BRIGADE_LAST(out_)) ? 0
                                                                  : response_bytes_ + out_bytes_;
    apr_status_t rv = ap_pass_brigade(out_filter_->next, out_);
    apr_brigade_cleanup(out_);
    out_bytes_ = 0;
    return rv;
}

// ---- TLS bytes in ----------------------------------------------------------------------------

apr_status_t TlsStream::drain_plain() {
    for (;;) {
        auto r = session_.read_plain(plain_.spare(kRecordPlain));
        if (!r) {
            plain_.consume(0);
            // The transport ended without close_notify after the handshake. Many clients close
            // that way; HTTP framing protects the data, so treat it as the end of input.
            if (handshake_done_) {
                ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "TLS: %s",
                              r.error().describe().c_str());
                peer_closed_ = true;
                return APR_SUCCESS;
            }
            return fail(r.error());
        }
        plain_.commit(r.value().n);
        if (r.value().n > 0) received_data_ = true;
        if (r.value().state == tls::ReadState::kClosed) peer_closed_ = true;
        if (r.value().state != tls::ReadState::kData) {
            plain_.consume(0);  // keep no storage for nothing
            return APR_SUCCESS;
        }
    }
}

apr_status_t TlsStream::process() {
    for (;;) {
        auto progress = session_.process();
        if (!progress) return fail(progress.error());
        if (progress.value() != tls::Progress::kHelloReady) break;
        tls::Status chosen = callbacks_.on_hello(callbacks_.ctx, session_);
        if (!chosen) return fail(chosen.error());
    }
    if (!handshake_done_ && !session_.is_handshaking()) {
        handshake_done_ = true;
        callbacks_.on_done(callbacks_.ctx, session_);
    }
    if (apr_status_t rv = drain_plain(); rv != APR_SUCCESS) return rv;
    if (session_.wants_write()) {
        if (apr_status_t rv = collect_tls(); rv != APR_SUCCESS) return rv;
        return pass_out(true);
    }
    return APR_SUCCESS;
}

apr_status_t TlsStream::feed(std::string_view tls_bytes) {
    if (tls_bytes.empty()) {  // EOF from the transport
        auto taken = session_.feed({});
        if (!taken) return fail(taken.error());
        return process();
    }
    while (!tls_bytes.empty()) {
        auto taken = session_.feed(tls_bytes);
        if (!taken) return fail(taken.error());
        if (apr_status_t rv = process(); rv != APR_SUCCESS) return rv;
        if (taken.value() == 0) {
            return fail(tls::Error(TLSB_ERR_INVALID, "the TLS session accepts no more input"));
        }
        tls_bytes.remove_prefix(taken.value());
    }
    return APR_SUCCESS;
}

apr_status_t TlsStream::read_tls(apr_read_type_e block) {
    apr_brigade_cleanup(in_);
    apr_status_t rv = ap_get_brigade(in_filter_->next, in_, AP_MODE_READBYTES, block, kReadChunk);
    if (APR_STATUS_IS_EAGAIN(rv)) return rv;
    bool eof = rv == APR_EOF;
    if (APR_STATUS_IS_TIMEUP(rv)) return time_out();
    if (rv != APR_SUCCESS && !eof) {
        return fail(tls::Error(TLSB_ERR_IO, std::string("reading from the ") + callbacks_.peer +
                                                " failed: " + apr_error(rv)));
    }
    bool got_data = false;
    while (!APR_BRIGADE_EMPTY(in_) && !failed_) {
        apr_bucket *b = APR_BRIGADE_FIRST(in_);
        if (APR_BUCKET_IS_EOS(b)) {
            eof = true;
        } else if (!APR_BUCKET_IS_METADATA(b)) {
            const char *data = nullptr;
            apr_size_t len = 0;
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                return fail(tls::Error(TLSB_ERR_IO, std::string("reading from the ") +
                                                        callbacks_.peer + " failed: " +
                                                        apr_error(rv)));
            }
            if (len > 0) {
                got_data = true;
                if (apr_status_t frv = feed({data, len}); frv != APR_SUCCESS) return frv;
            }
        }
        apr_bucket_delete(b);
    }
    if (failed_) return APR_ECONNABORTED;
    if (eof || (!got_data && block == APR_BLOCK_READ)) return feed({});
    if (!got_data) return APR_EAGAIN;
    return APR_SUCCESS;
}

// ---- handshake -------------------------------------------------------------------------------

apr_status_t TlsStream::handshake(apr_read_type_e block) {
    if (!started_ && !handshake_done_ && !failed_) {
        started_ = true;
        if (callbacks_.on_start != nullptr) {
            if (tls::Status st = callbacks_.on_start(callbacks_.ctx, session_); !st)
                return fail(st.error());
        }
    }
    while (!handshake_done_) {
        if (failed_) return APR_ECONNABORTED;
        // A client speaks first: its ClientHello leaves before we wait for the server.
        if (session_.wants_write()) {
            if (apr_status_t rv = collect_tls(); rv != APR_SUCCESS) return rv;
            if (apr_status_t rv = pass_out(true); rv != APR_SUCCESS) return fail_io(rv);
        }
        if (apr_status_t rv = read_tls(block); rv != APR_SUCCESS) return rv;
        if (!handshake_done_ && peer_closed_) {
            return fail(tls::Error(TLSB_ERR_TLS, std::string("the ") + callbacks_.peer +
                                                     " closed the connection during the handshake"));
        }
    }
    return failed_ ? APR_ECONNABORTED : APR_SUCCESS;
}

// ---- input filter ----------------------------------------------------------------------------

void TlsStream::append_plain(apr_bucket_brigade *bb, size_t n, bool consume_it) {
    if (n == 0) return;
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(plain_.pending().data(), n, nullptr,
                                                       bb->bucket_alloc));
    if (consume_it) plain_.consume(n);
}

apr_status_t TlsStream::ensure_plain(apr_read_type_e block) {
    while (available() == 0) {
        if (failed_) return APR_ECONNABORTED;
        if (peer_closed_) return APR_EOF;
        if (apr_status_t rv = read_tls(block); rv != APR_SUCCESS) return rv;
    }
    return APR_SUCCESS;
}

apr_status_t TlsStream::read(apr_bucket_brigade *bb, ap_input_mode_t mode, apr_read_type_e block,
                             apr_off_t readbytes) {
    if (failed_) return APR_ECONNABORTED;
    if (apr_status_t rv = handshake(block); rv != APR_SUCCESS) return rv;
    if (mode == AP_MODE_INIT) return APR_SUCCESS;
    if (mode == AP_MODE_EATCRLF) return APR_ENOTIMPL;

    if (apr_status_t rv = ensure_plain(block); rv != APR_SUCCESS) return rv;
    const size_t wanted = readbytes > 0 ? static_cast<size_t>(readbytes) : available();

    switch (mode) {
        case AP_MODE_READBYTES:
            append_plain(bb, std::min(wanted, available()), true);
            return APR_SUCCESS;
        case AP_MODE_SPECULATIVE:
            append_plain(bb, std::min(wanted, available()), false);
            return APR_SUCCESS;
        case AP_MODE_EXHAUSTIVE:
            append_plain(bb, available(), true);
            return APR_SUCCESS;
        case AP_MODE_GETLINE: {
            // Look for LF, reading more records while the line is incomplete and short.
            for (;;) {
                const size_t lf = pending().find('\n');
                if (lf != std::string_view::npos) {
                    append_plain(bb, lf + 1, true);
                    return APR_SUCCESS;
                }
                if (available() >= kLineLimit || peer_closed_) break;
                apr_status_t rv = read_tls(block);
                if (APR_STATUS_IS_EAGAIN(rv)) break;
                if (rv != APR_SUCCESS) return rv;
            }
            append_plain(bb, available(), true);
            return APR_SUCCESS;
        }
        default:
            return APR_ENOTIMPL;
    }
}

// ---- output filter ---------------------------------------------------------------------------

apr_status_t TlsStream::encrypt(std::string_view plain) {
    while (!plain.empty()) {
        auto taken = session_.write_plain(plain.substr(0, kPlainSlice));
        if (!taken) return fail(taken.error());
        plain.remove_prefix(taken.value());
        if (apr_status_t rv = collect_tls(); rv != APR_SUCCESS) return rv;
        if (taken.value() == 0 && out_bytes_ == 0) {
            return fail(tls::Error(TLSB_ERR_INVALID, "the TLS session accepts no more output"));
        }
        if (out_bytes_ >= kPassThreshold) {
            if (apr_status_t rv = pass_out(false); rv != APR_SUCCESS) return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t TlsStream::flush_small_writes() {
    if (small_writes_.size() == 0) {
        small_writes_.consume(0);  // releases a reservation that was never filled
        return APR_SUCCESS;
    }
    apr_status_t rv = encrypt(small_writes_.pending());
    small_writes_.consume(small_writes_.size());
    return rv;
}

apr_status_t TlsStream::write_data(std::string_view data) {
    if (data.size() > kSmallWrite) {
        if (apr_status_t rv = flush_small_writes(); rv != APR_SUCCESS) return rv;
        return encrypt(data);
    }
    // Room for a few more small writes, so headers and a small body share one allocation.
    std::span<char> room = small_writes_.spare(std::max(data.size(), kSmallWrite));
    std::copy(data.begin(), data.end(), room.begin());
    small_writes_.commit(data.size());
    return small_writes_.size() >= kRecordPlain ? flush_small_writes() : APR_SUCCESS;
}

// A file of up to one record is read straight into the gathered small writes with pread(),
// not mapped: APR's file bucket maps even a 1 KiB file (with EnableMMAP on, httpd's default),
// and mapping, faulting in and unmapping it costs more than a read; each munmap interrupts the
// other CPUs to flush their TLBs. APR's own read() would keep an 8 KiB buffer with the
// connection. pread leaves the descriptor's offset alone, so a shared descriptor is fine too.
apr_status_t TlsStream::write_small_file(apr_bucket *file) {
    const size_t len = file->length;
    apr_os_file_t fd = -1;
    if (apr_status_t rv = apr_os_file_get(&fd, static_cast<apr_bucket_file *>(file->data)->fd);
        rv != APR_SUCCESS)
        return rv;
    std::span<char> room = small_writes_.spare(std::max(len, kSmallWrite)).first(len);
    size_t done = 0;
    while (done < len) {
        const ssize_t n = ::pread(fd, room.data() + done, len - done,
                                  file->start + static_cast<apr_off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return APR_FROM_OS_ERROR(errno);
        if (n == 0) return APR_EOF;  // the file shrank since the response began
        done += static_cast<size_t>(n);
    }
    small_writes_.commit(len);
    return small_writes_.size() >= kRecordPlain ? flush_small_writes() : APR_SUCCESS;
}

apr_status_t TlsStream::write(apr_bucket_brigade *bb) {
    if (!failed_ && !handshake_done_) handshake(APR_BLOCK_READ);
    if (failed_) {
        apr_brigade_cleanup(bb);
        return APR_ECONNABORTED;
    }
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_METADATA(b)) {
            if (apr_status_t rv = flush_small_writes(); rv != APR_SUCCESS) {
                apr_brigade_cleanup(bb);
                return rv;
            }
            if (AP_BUCKET_IS_EOC(b) && !close_notify_sent_ && !c_->aborted) {
                // The connection ends: say so with close_notify, flushed before the socket
                // closes (the core filter would otherwise keep such a small write buffered).
                close_notify_sent_ = true;
                session_.send_close_notify();
                if (apr_status_t rv = collect_tls(); rv != APR_SUCCESS) return rv;
                if (apr_status_t rv = pass_out(true); rv != APR_SUCCESS) return rv;
            }
            const bool flush = APR_BUCKET_IS_FLUSH(b);
            const bool end_of_response = AP_BUCKET_IS_EOR(b);
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(out_, b);
            if (end_of_response) {
                // A small response is flushed (a connection about to close is flushed with its
                // close_notify at EOC instead). A bigger one is written by the MPM's write
                // completion before the next request is read, so the next response counts afresh.
                const bool small = response_bytes_ + out_bytes_ <= kFlushAtEndOfResponse;
                if (apr_status_t rv = pass_out(small && c_->keepalive != AP_CONN_CLOSE);
                    rv != APR_SUCCESS)
                    return rv;
                response_bytes_ = 0;
            } else if (flush) {
                if (apr_status_t rv = pass_out(false); rv != APR_SUCCESS) return rv;
            }
            continue;
        }
        apr_status_t rv = APR_SUCCESS;
        if (is_small_unbuffered_file(b)) {
            rv = write_small_file(b);
        } else {
            const char *data = nullptr;
            apr_size_t len = 0;
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv == APR_SUCCESS) rv = write_data({data, len});
        }
        apr_bucket_delete(b);
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return rv;
        }
    }
    // Nothing stays here between calls: whatever tunnels data (mod_proxy) relies on the core
    // filter alone holding unwritten bytes (c->data_in_output_filters).
    if (apr_status_t rv = flush_small_writes(); rv != APR_SUCCESS) return rv;
    return pass_out(false);
}

}  // namespace mod_tls
