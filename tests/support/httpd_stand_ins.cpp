#include "httpd_stand_ins.h"

#include <cstdarg>
#include <cstdio>

// The module record tls_stream.cpp's APLOG_USE_MODULE(tls) refers to.
extern "C" {
struct module_struct AP_MODULE_DECLARE_DATA tls_module = {};
}

namespace stand_ins {
namespace {

Network *g_network = nullptr;
ap_filter_rec_t g_in_rec{};
ap_filter_rec_t g_out_rec{};
ap_filter_rec_t g_network_rec{};
ap_logconf g_log{nullptr, APLOG_TRACE8};

apr_status_t metadata_read(apr_bucket *, const char **str, apr_size_t *len, apr_read_type_e) {
    *str = nullptr;
    *len = 0;
    return APR_SUCCESS;
}

ap_filter_t *add_filter(apr_pool_t *pool, ap_filter_rec_t *rec, void *ctx, conn_rec *c) {
    auto *below = static_cast<ap_filter_t *>(apr_pcalloc(pool, sizeof(ap_filter_t)));
    below->frec = &g_network_rec;
    below->ctx = g_network;
    below->c = c;
    auto *f = static_cast<ap_filter_t *>(apr_pcalloc(pool, sizeof(ap_filter_t)));
    f->frec = rec;
    f->ctx = ctx;
    f->next = below;
    f->c = c;
    return f;
}

}  // namespace

void set_network(Network *network) { g_network = network; }

conn_rec *make_connection(apr_pool_t *pool) {
    auto *c = static_cast<conn_rec *>(apr_pcalloc(pool, sizeof(conn_rec)));
    c->pool = pool;
    c->bucket_alloc = apr_bucket_alloc_create(pool);
    c->log = &g_log;
    c->client_ip = const_cast<char *>("192.0.2.1");
    return c;
}

}  // namespace stand_ins

extern "C" {

const apr_bucket_type_t ap_bucket_type_eoc = {
    "EOC", 5, apr_bucket_type_t::APR_BUCKET_METADATA, apr_bucket_destroy_noop,
    stand_ins::metadata_read, apr_bucket_setaside_noop, apr_bucket_split_notimpl,
    apr_bucket_simple_copy};

const apr_bucket_type_t ap_bucket_type_eor = {
    "EOR", 5, apr_bucket_type_t::APR_BUCKET_METADATA, apr_bucket_destroy_noop,
    stand_ins::metadata_read, apr_bucket_setaside_noop, apr_bucket_split_notimpl,
    apr_bucket_simple_copy};

ap_filter_rec_t *ap_register_input_filter(const char *name, ap_in_filter_func func,
                                          ap_init_filter_func, ap_filter_type type) {
    stand_ins::g_in_rec.name = name;
    stand_ins::g_in_rec.filter_func.in_func = func;
    stand_ins::g_in_rec.ftype = type;
    return &stand_ins::g_in_rec;
}

ap_filter_rec_t *ap_register_output_filter(const char *name, ap_out_filter_func func,
                                           ap_init_filter_func, ap_filter_type type) {
    stand_ins::g_out_rec.name = name;
    stand_ins::g_out_rec.filter_func.out_func = func;
    stand_ins::g_out_rec.ftype = type;
    return &stand_ins::g_out_rec;
}

ap_filter_t *ap_add_input_filter_handle(ap_filter_rec_t *f, void *ctx, request_rec *,
                                        conn_rec *c) {
    return stand_ins::add_filter(c->pool, f, ctx, c);
}

ap_filter_t *ap_add_output_filter_handle(ap_filter_rec_t *f, void *ctx, request_rec *,
                                         conn_rec *c) {
    return stand_ins::add_filter(c->pool, f, ctx, c);
}

apr_status_t ap_get_brigade(ap_filter_t *filter, apr_bucket_brigade *bb, ap_input_mode_t mode,
                            apr_read_type_e block, apr_off_t readbytes) {
    if (filter == nullptr || filter->frec != &stand_ins::g_network_rec || filter->ctx == nullptr)
        return AP_NOBODY_READ;
    return static_cast<stand_ins::Network *>(filter->ctx)->read(bb, mode, block, readbytes);
}

apr_status_t ap_pass_brigade(ap_filter_t *filter, apr_bucket_brigade *bb) {
    if (filter == nullptr || filter->frec != &stand_ins::g_network_rec || filter->ctx == nullptr)
        return AP_NOBODY_WROTE;
    return static_cast<stand_ins::Network *>(filter->ctx)->write(bb);
}

// (In parentheses: http_config.h also defines a macro of that name.)
int (ap_get_conn_module_loglevel)(const conn_rec *, int) { return APLOG_TRACE8; }

void ap_log_cerror_(const char *, int, int, int, apr_status_t, const conn_rec *, const char *fmt,
                    ...) {
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);  // runs the format and its arguments
    va_end(ap);
}

void ap_log_error_(const char *, int, int, int, apr_status_t, const server_rec *, const char *fmt,
                   ...) {
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
}

}  // extern "C"

namespace {

apr_bucket *metadata_bucket(const apr_bucket_type_t *type, apr_bucket_alloc_t *list) {
    auto *b = static_cast<apr_bucket *>(apr_bucket_alloc(sizeof(apr_bucket), list));
    APR_BUCKET_INIT(b);
    b->free = apr_bucket_free;
    b->list = list;
    b->length = 0;
    b->start = 0;
    b->data = nullptr;
    b->type = type;
    return b;
}

}  // namespace

apr_bucket *stand_ins::eoc_bucket(apr_bucket_alloc_t *list) {
    return metadata_bucket(&ap_bucket_type_eoc, list);
}

apr_bucket *stand_ins::eor_bucket(apr_bucket_alloc_t *list) {
    return metadata_bucket(&ap_bucket_type_eor, list);
}
