#include "vars/expr_and_log.h"

#include <strings.h>

#include <ap_expr.h>
#include <mod_log_config.h>

namespace mod_tls {

namespace {

const char *lookup(ap_expr_eval_ctx_t *ctx, const char *name) {
    conn_rec *c = ctx->c != nullptr ? ctx->c : (ctx->r != nullptr ? ctx->r->connection : nullptr);
    return ap_ssl_var_lookup(ctx->p, ctx->s, c, ctx->r, name);
}

// %{SSL_NAME}
const char *expr_var(ap_expr_eval_ctx_t *ctx, const void *data) {
    return lookup(ctx, static_cast<const char *>(data));
}

// %{SSL:NAME}
const char *expr_function(ap_expr_eval_ctx_t *ctx, const void *, const char *arg) {
    return lookup(ctx, arg);
}

// %{NAME}x; nullptr is logged as "-".
const char *log_var(request_rec *r, char *name) {
    const char *v = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, name);
    return v != nullptr && *v != '\0' ? v : nullptr;
}

// ap_expr stores lookups as data pointers; this is the one conversion of ours to that form.
template <class Fn>
const void *as_expr_func(Fn *fn) {
    return reinterpret_cast<const void *>(fn);
}

}  // namespace

int lookup_expr_function(ap_expr_lookup_parms *parms) {
    if (parms->type == AP_EXPR_FUNC_VAR && strncasecmp(parms->name, "SSL_", 4) == 0) {
        *parms->func = as_expr_func(expr_var);
        *parms->data = parms->name;
        return OK;
    }
    if (parms->type == AP_EXPR_FUNC_STRING && strcasecmp(parms->name, "SSL") == 0) {
        *parms->func = as_expr_func(expr_function);
        *parms->data = nullptr;
        return OK;
    }
    return DECLINED;
}

int register_log_format(apr_pool_t *pconf, apr_pool_t *, apr_pool_t *) {
    auto *register_handler = APR_RETRIEVE_OPTIONAL_FN(ap_register_log_handler);
    if (register_handler != nullptr) register_handler(pconf, const_cast<char *>("x"), log_var, 0);
    return OK;
}

}  // namespace mod_tls
