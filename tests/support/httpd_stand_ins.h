// Minimal stand-ins for the httpd functions src/filters/tls_stream.cpp and
// src/integration/socache_store.cpp call (httpd is a program, not a library we can link): filter
// registration and chaining, the EOC and EOR bucket types, logging. APR (buckets, brigades,
// pools) is the real library. Shared by the fuzz harness (fuzz/fuzz_tls_stream.cpp) and the unit
// tests (tests/unit/tls_stream_test.cpp, socache_store_test.cpp).
#pragma once

#include "apache/includes.h"

namespace stand_ins {

// The network below the TLS filters: what ap_get_brigade / ap_pass_brigade on the filter below
// TLS_IN / TLS_OUT reach.
class Network {
public:
    virtual ~Network() = default;
    virtual apr_status_t read(apr_bucket_brigade *bb, ap_input_mode_t mode,
                              apr_read_type_e block, apr_off_t readbytes) = 0;
    virtual apr_status_t write(apr_bucket_brigade *bb) = 0;
};

// Filters added from now on sit on top of `network` (nullptr: none).
void set_network(Network *network);

// An EOC bucket (the stand-in's type is the one AP_BUCKET_IS_EOC checks).
apr_bucket *eoc_bucket(apr_bucket_alloc_t *list);
// An EOR bucket, the end of a response (the type AP_BUCKET_IS_EOR checks). httpd's destroys
// the request's pool with the bucket; this one carries no request.
apr_bucket *eor_bucket(apr_bucket_alloc_t *list);

// A conn_rec over pool with a log configuration that lets every level through (so the log
// calls and their format arguments run).
conn_rec *make_connection(apr_pool_t *pool);

}  // namespace stand_ins
