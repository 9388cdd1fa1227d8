// mod_tls_test_filters.so: a test-only Apache module (built with the tests, never installed or
// packaged) with two output filters between mod_tls's TLS_OUT (AP_FTYPE_CONNECTION + 5) and the
// core output filter (AP_FTYPE_NETWORK), where TLS_OUT's lent records go (docs/performance.md,
// "Lent records"). tests/integration/test_lent_records.py loads it.
//
//   TestFilterSetAside <bytes>   keeps what it is passed across calls, as a filter may: every
//                                bucket set aside with apr_bucket_setaside (the rule for keeping
//                                a bucket past the call), passed on once it holds <bytes>, and at
//                                FLUSH, EOR and EOC.
//   TestFilterFailWrite <bytes>  fails the write that crosses <bytes> of the connection's output
//                                the way the core output filter fails one: what fits is written
//                                (passed on with a FLUSH), the rest stays unread and not set
//                                aside (the core's tmp_flush_bb) until the connection's pool goes,
//                                the connection is marked aborted, and later writes are refused.
//
// Both are per virtual host (the address's first host, as chosen before the handshake).
#include <apr_buckets.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include <limits>

#include "apache/pool_owned.h"

extern "C" {
extern module AP_MODULE_DECLARE_DATA tls_test_filters_module;
}

namespace {

// Between TLS_OUT (AP_FTYPE_CONNECTION + 5) and the core (AP_FTYPE_NETWORK).
constexpr auto kFilterType = static_cast<ap_filter_type>(AP_FTYPE_NETWORK - 1);

struct ServerConf {
    apr_off_t setaside_bytes = 0;  // 0: no set-aside filter
    apr_off_t fail_after = 0;      // 0: no failing filter
};

ap_filter_rec_t *g_setaside = nullptr;
ap_filter_rec_t *g_failing = nullptr;

ServerConf *conf_of(server_rec *s) {
    return static_cast<ServerConf *>(ap_get_module_config(s->module_config,
                                                          &tls_test_filters_module));
}

void *create_server_conf(apr_pool_t *p, server_rec *) {
    return mod_tls::make_pool_owned<ServerConf>(p);
}

// A positive byte count into n; false if arg is not one.
bool parse_bytes(const char *arg, apr_off_t &n) {
    return apr_strtoff(&n, arg, nullptr, 10) == APR_SUCCESS && n > 0;
}

const char *set_setaside(cmd_parms *cmd, void *, const char *arg) {
    if (!parse_bytes(arg, conf_of(cmd->server)->setaside_bytes))
        return "TestFilterSetAside: a positive byte count";
    return nullptr;
}

const char *set_fail_write(cmd_parms *cmd, void *, const char *arg) {
    if (!parse_bytes(arg, conf_of(cmd->server)->fail_after))
        return "TestFilterFailWrite: a positive byte count";
    return nullptr;
}

template <class Handler>
cmd_func handler(Handler h) {
    return reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(h));
}

// ---- TestFilterSetAside ---------------------------------------------------------------------

struct SetAside {
    apr_off_t limit = 0;
    apr_pool_t *pool = nullptr;  // what is set aside lives here until it is passed on
    apr_bucket_brigade *held = nullptr;
    apr_off_t held_bytes = 0;
};

apr_status_t set_aside(apr_bucket *b, apr_pool_t *pool) {
    apr_status_t rv = apr_bucket_setaside(b, pool);
    if (rv == APR_ENOTIMPL) {  // read it into memory first (as ap_save_brigade does)
        const char *data = nullptr;
        apr_size_t len = 0;
        rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
        if (rv == APR_SUCCESS) rv = apr_bucket_setaside(b, pool);
    }
    return rv;
}

apr_status_t setaside_filter(ap_filter_t *f, apr_bucket_brigade *bb) {
    auto *ctx = static_cast<SetAside *>(f->ctx);
    bool pass_on = false;
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_FLUSH(b) || AP_BUCKET_IS_EOR(b) || AP_BUCKET_IS_EOC(b)) pass_on = true;
        if (apr_status_t rv = set_aside(b, ctx->pool); rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return rv;
        }
        if (b->length != std::numeric_limits<apr_size_t>::max())
            ctx->held_bytes += static_cast<apr_off_t>(b->length);
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(ctx->held, b);
    }
    if (!pass_on && ctx->held_bytes < ctx->limit) return APR_SUCCESS;
    ctx->held_bytes = 0;
    apr_status_t rv = ap_pass_brigade(f->next, ctx->held);
    apr_brigade_cleanup(ctx->held);
    apr_pool_clear(ctx->pool);  // the core filter has written or set aside all of it
    return rv;
}

// ---- TestFilterFailWrite --------------------------------------------------------------------

struct FailWrite {
    apr_off_t limit = 0;
    apr_off_t passed = 0;
    apr_bucket_brigade *unwritten = nullptr;  // never read again
};

apr_status_t failing_filter(ap_filter_t *f, apr_bucket_brigade *bb) {
    auto *ctx = static_cast<FailWrite *>(f->ctx);
    conn_rec *c = f->c;
    if (c->aborted) {  // as the core filter: fail at once
        apr_brigade_cleanup(bb);
        return APR_ECONNABORTED;
    }
    apr_off_t len = 0;
    if (apr_status_t rv = apr_brigade_length(bb, 1, &len); rv != APR_SUCCESS) return rv;
    if (ctx->passed + len <= ctx->limit) {
        ctx->passed += len;
        return ap_pass_brigade(f->next, bb);
    }
    apr_bucket *rest = nullptr;
    if (apr_status_t rv = apr_brigade_partition(bb, ctx->limit - ctx->passed, &rest);
        rv != APR_SUCCESS)
        return rv;
    ctx->unwritten = apr_brigade_split_ex(bb, rest, ctx->unwritten);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(c->bucket_alloc));
    ap_pass_brigade(f->next, bb);
    apr_brigade_cleanup(bb);
    ctx->passed = ctx->limit;
    c->aborted = 1;
    return APR_ECONNRESET;
}

// ---- hooks ----------------------------------------------------------------------------------

// pre_connection: adds the filters the connection's address's host asks for.
int add_filters(conn_rec *c, void *) {
    if (c->master != nullptr || c->outgoing) return DECLINED;
    const ServerConf *conf = conf_of(c->base_server);
    if (conf->setaside_bytes > 0) {
        auto *ctx = mod_tls::make_pool_owned<SetAside>(c->pool);
        ctx->limit = conf->setaside_bytes;
        apr_pool_create(&ctx->pool, c->pool);
        ctx->held = apr_brigade_create(c->pool, c->bucket_alloc);
        ap_add_output_filter_handle(g_setaside, ctx, nullptr, c);
    }
    if (conf->fail_after > 0) {
        auto *ctx = mod_tls::make_pool_owned<FailWrite>(c->pool);
        ctx->limit = conf->fail_after;
        ctx->unwritten = apr_brigade_create(c->pool, c->bucket_alloc);
        ap_add_output_filter_handle(g_failing, ctx, nullptr, c);
    }
    return DECLINED;
}

void register_hooks(apr_pool_t *) {
    g_setaside = ap_register_output_filter("TEST_SETASIDE", setaside_filter, nullptr, kFilterType);
    g_failing = ap_register_output_filter("TEST_FAIL_WRITE", failing_filter, nullptr, kFilterType);
    ap_hook_pre_connection(add_filters, nullptr, nullptr, APR_HOOK_MIDDLE);
}

const command_rec kCommands[] = {
    {"TestFilterSetAside", handler(set_setaside), nullptr, RSRC_CONF, TAKE1,
     "TestFilterSetAside bytes - hold output, set aside, until this many bytes"},
    {"TestFilterFailWrite", handler(set_fail_write), nullptr, RSRC_CONF, TAKE1,
     "TestFilterFailWrite bytes - fail the write that crosses this many bytes of output"},
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr},
};

}  // namespace

extern "C" {
__attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA tls_test_filters_module = {
    MODULE_MAGIC_NUMBER_MAJOR,
    MODULE_MAGIC_NUMBER_MINOR,
    -1,
    "mod_tls_test_filters.c",
    nullptr,
    nullptr,
    MODULE_MAGIC_COOKIE,
    nullptr,
    nullptr,              // per-directory config creator
    nullptr,              // per-directory config merger
    create_server_conf,   // per-server config creator
    nullptr,              // per-server config merger: each host has its own
    kCommands,
    register_hooks,
    AP_MODULE_FLAG_NONE,
};
}
