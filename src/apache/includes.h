// Apache httpd and APR headers, in one place, for every file of the module.
#pragma once

#include <apr_strings.h>
#include <apr_buckets.h>
#include <apr_network_io.h>
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <http_vhost.h>
#include <util_filter.h>

extern "C" {
extern module AP_MODULE_DECLARE_DATA tls_module;
}
