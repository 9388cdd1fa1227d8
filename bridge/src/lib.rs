//! tls_bridge: a narrow, sans-I/O C ABI over rustls 0.20 for mod_tls (see include/tls_bridge.h).
//!
//! Every exported function null-checks its pointers, catches panics (poisoning the handle) and
//! reports errors through `tlsb_error`. The modules each hold one concern:
//! `ffi` (ABI plumbing), `names` (static names), `alerts` (errors to alerts), `key` (certified
//! keys), `config` (server configs and the certificate resolver), `conn` (the connection).

mod alerts;
mod certinfo;
mod client;
mod client_verify;
mod config;
mod conn;
mod crl;
mod der;
mod dn;
mod ffi;
mod key;
mod names;
mod observe;
mod ocsp;
mod session_scope;
mod session_store;
mod sni_probe;
mod suite_bits;
mod ticket_keys;
mod tls13_alert;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_client;

use std::ffi::c_void;
use std::os::raw::{c_char, c_int};

use rustls::Certificate;

pub use certinfo::tlsb_cert_info;
pub use client::{tlsb_client_config, tlsb_client_config_params};
pub use client_verify::tlsb_client_verifier;
pub use config::{tlsb_server_config, tlsb_server_config_params};
pub use conn::tlsb_conn;
pub use ffi::{tlsb_error, tlsb_result, TLSB_NO_ALERT};
pub use key::tlsb_certified_key;
pub use session_store::tlsb_session_store;
pub use ticket_keys::tlsb_ticket_keys;

use ffi::*;

// ---- static names ------------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_result_name(result: u32) -> *const c_char {
    cstr(names::result_name(result))
}

#[no_mangle]
pub extern "C" fn tlsb_alert_name(alert: u16) -> *const c_char {
    cstr(names::alert_name(alert))
}

#[no_mangle]
pub extern "C" fn tlsb_cipher_suite_name(suite: u16) -> *const c_char {
    cstr(names::cipher_suite_name(suite))
}

#[no_mangle]
pub extern "C" fn tlsb_protocol_version_name(version: u16) -> *const c_char {
    cstr(names::protocol_version_name(version))
}

#[no_mangle]
pub extern "C" fn tlsb_rustls_version() -> *const c_char {
    cstr(names::RUSTLS_VERSION)
}

#[no_mangle]
pub extern "C" fn tlsb_supported_cipher_suites(out: *mut *const u16, count: *mut usize) -> tlsb_result {
    call(std::ptr::null_mut(), || {
        let out = ffi::out(out, "out")?;
        let count = ffi::out(count, "count")?;
        *out = names::SUPPORTED_CIPHER_SUITES.as_ptr();
        *count = names::SUPPORTED_CIPHER_SUITES.len();
        Ok(TLSB_OK)
    })
}

// ---- certified keys ----------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_certified_key_new(
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
    out: *mut *mut tlsb_certified_key,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = ffi::out(out, "out")?;
        if cert_pem.is_null() {
            return Err(Failure::null("cert_pem"));
        }
        if key_pem.is_null() {
            return Err(Failure::null("key_pem"));
        }
        let cert = in_bytes(cert_pem, cert_len, "cert_pem")?;
        let key = in_bytes(key_pem, key_len, "key_pem")?;
        *out = into_handle(tlsb_certified_key::from_pem(cert, key)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_certified_key_free(key: *mut tlsb_certified_key) {
    free_handle(key)
}

#[no_mangle]
pub extern "C" fn tlsb_certified_key_chain_len(key: *const tlsb_certified_key) -> usize {
    value(key, 0, |k| k.key.cert.len())
}

#[no_mangle]
pub extern "C" fn tlsb_certified_key_chain_der(
    key: *const tlsb_certified_key,
    index: usize,
    der: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(key, std::ptr::null_mut(), |k| {
        let der = ffi::out(der, "der")?;
        let len = ffi::out(len, "len")?;
        let cert = k.key.cert.get(index).ok_or_else(|| Failure::invalid("chain index out of range"))?;
        put_span(der, len, &cert.0);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_certified_key_algorithm(key: *const tlsb_certified_key) -> *const c_char {
    value(key, cstr(b"unknown\0"), |k| cstr(k.algorithm))
}

// ---- OCSP stapling (ocsp.rs) ---------------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_certified_key_ocsp_id(key: *const tlsb_certified_key, id: *mut u8, id_cap: usize) -> tlsb_result {
    with_ref(key, std::ptr::null_mut(), |k| {
        let out = out_bytes(id, id_cap, "id")?;
        if out.len() < ocsp::OCSP_ID_LEN {
            return Err(Failure::invalid("the id buffer is smaller than TLSB_OCSP_ID_LEN"));
        }
        out[..ocsp::OCSP_ID_LEN].copy_from_slice(&ocsp::ocsp_id(&k.key.cert[0]));
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_certified_key_ocsp_pem(key: *const tlsb_certified_key) -> *const c_char {
    value(key, std::ptr::null(), |k| k.ocsp_pem.as_ptr() as *const c_char)
}

#[no_mangle]
pub extern "C" fn tlsb_certified_key_set_ocsp(key: *const tlsb_certified_key, der: *const u8, len: usize) -> tlsb_result {
    with_ref(key, std::ptr::null_mut(), |k| {
        k.staple.set(in_bytes(der, len, "der")?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_certified_key_ocsp_len(key: *const tlsb_certified_key) -> usize {
    value(key, 0, |k| k.staple.current_response().len())
}

// ---- server configs ----------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_server_config_new(
    params: *const tlsb_server_config_params,
    out: *mut *mut tlsb_server_config,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = ffi::out(out, "out")?;
        if params.is_null() {
            return Err(Failure::null("params"));
        }
        // SAFETY: non-NULL, and the caller passes a valid params struct.
        let params = unsafe { &*params };
        *out = into_handle(tlsb_server_config::from_params(params)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_server_config_free(config: *mut tlsb_server_config) {
    free_handle(config)
}

// ---- client certificate verification -----------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_client_verifier_new(
    mode: u32,
    ca_pem: *const u8,
    ca_len: usize,
    out: *mut *mut tlsb_client_verifier,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        if ca_pem.is_null() {
            return Err(Failure::null("ca_pem"));
        }
        *out = into_handle(tlsb_client_verifier::new(mode, in_bytes(ca_pem, ca_len, "ca_pem")?)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_client_verifier_add_crls(
    verifier: *mut tlsb_client_verifier,
    data: *const u8,
    len: usize,
    now: i64,
    count: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(verifier, err, |v| {
        let count = ffi::out(count, "count")?;
        *count = 0;
        if data.is_null() {
            return Err(Failure::null("data"));
        }
        *count = v.add_crls(in_bytes(data, len, "data")?, now)?;
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_client_verifier_free(verifier: *mut tlsb_client_verifier) {
    free_handle(verifier)
}

// ---- session ticket keys ----------------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_ticket_keys_new(
    text: *const u8,
    len: usize,
    lifetime_secs: u32,
    out: *mut *mut tlsb_ticket_keys,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        let text = in_bytes(text, len, "text")?;
        *out = into_handle(tlsb_ticket_keys::new(ticket_keys::TicketKeys::parse(text, lifetime_secs)?));
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_ticket_keys_count(keys: *const tlsb_ticket_keys) -> usize {
    value(keys, 0, |k| k.keys.len())
}

#[no_mangle]
pub extern "C" fn tlsb_ticket_keys_free(keys: *mut tlsb_ticket_keys) {
    free_handle(keys)
}

// ---- connections -------------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_conn_new_server(out: *mut *mut tlsb_conn) -> tlsb_result {
    call(std::ptr::null_mut(), || {
        let out = ffi::out(out, "out")?;
        *out = into_handle(tlsb_conn::new());
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_free(conn: *mut tlsb_conn) {
    free_handle(conn)
}

#[no_mangle]
pub extern "C" fn tlsb_conn_read_tls(
    conn: *mut tlsb_conn,
    buf: *const u8,
    len: usize,
    consumed: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let consumed = ffi::out(consumed, "consumed")?;
        *consumed = 0;
        *consumed = c.read_tls(in_bytes(buf, len, "buf")?)?;
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_process(conn: *mut tlsb_conn, err: *mut tlsb_error) -> tlsb_result {
    with_mut(conn, err, |c| c.process())
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_sni(conn: *const tlsb_conn, name: *mut *const u8, len: *mut usize) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let name = ffi::out(name, "name")?;
        let len = ffi::out(len, "len")?;
        put_span(name, len, c.hello_sni()?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_alpn_count(conn: *const tlsb_conn) -> usize {
    value(conn, 0, |c| c.hello_alpn().map(|a| a.len()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_alpn(
    conn: *const tlsb_conn,
    index: usize,
    proto: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let proto = ffi::out(proto, "proto")?;
        let len = ffi::out(len, "len")?;
        let p = c.hello_alpn()?.get(index).ok_or_else(|| Failure::invalid("ALPN index out of range"))?;
        put_span(proto, len, p);
        Ok(TLSB_OK)
    })
}

fn put_u16s<'a>(
    ptr_out: *mut *const u16,
    count_out: *mut usize,
    get: impl FnOnce() -> Res<&'a [u16]>,
) -> Res<tlsb_result> {
    let ptr_out = ffi::out(ptr_out, "out array")?;
    let count_out = ffi::out(count_out, "count")?;
    let v = get()?;
    static EMPTY_U16: [u16; 1] = [0];
    *ptr_out = if v.is_empty() { EMPTY_U16.as_ptr() } else { v.as_ptr() };
    *count_out = v.len();
    Ok(TLSB_OK)
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_signature_schemes(
    conn: *const tlsb_conn,
    schemes: *mut *const u16,
    count: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| put_u16s(schemes, count, || c.hello_sig_schemes()))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_cipher_suites(
    conn: *const tlsb_conn,
    suites: *mut *const u16,
    count: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| put_u16s(suites, count, || c.hello_suites()))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_select_config(
    conn: *mut tlsb_conn,
    config: *const tlsb_server_config,
    alpn: *const u8,
    alpn_len: usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        if config.is_null() {
            return Err(Failure::null("config"));
        }
        // SAFETY: non-NULL config handles come from tlsb_server_config_new and are alive.
        let config = unsafe { &*config };
        let alpn = in_bytes(alpn, alpn_len, "alpn")?;
        c.select_config(config, alpn)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_reject(conn: *mut tlsb_conn, alert: u16, err: *mut tlsb_error) -> tlsb_result {
    with_mut(conn, err, |c| c.reject(alert))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_wants_write(conn: *const tlsb_conn) -> c_int {
    value(conn, 0, |c| c_int::from(c.wants_write()))
}

/// One queued TLS record of a batch lent to a `tlsb_tls_sink`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tlsb_slice {
    pub data: *const u8,
    pub len: usize,
}

/// Receives a batch of TLS bytes; returns nonzero once all of it was sent or copied, 0 to stop.
#[allow(non_camel_case_types)]
pub type tlsb_tls_sink = Option<unsafe extern "C" fn(ctx: *mut c_void, batch: *const tlsb_slice, count: usize) -> c_int>;

#[no_mangle]
pub extern "C" fn tlsb_conn_send_tls(
    conn: *mut tlsb_conn,
    sink: tlsb_tls_sink,
    ctx: *mut c_void,
    sent: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let sent = ffi::out(sent, "sent")?;
        *sent = 0;
        let sink = sink.ok_or_else(|| Failure::null("sink"))?;
        let mut lend = |chunks: &[std::io::IoSlice<'_>]| {
            let mut batch = [tlsb_slice { data: std::ptr::null(), len: 0 }; conn::MAX_BATCH];
            for (slot, c) in batch.iter_mut().zip(chunks) {
                *slot = tlsb_slice { data: c.as_ptr(), len: c.len() };
            }
            let count = chunks.len().min(conn::MAX_BATCH);  // send_tls never lends more
            // SAFETY: the slices point into rustls's queue, alive until this call returns; the
            // header requires the sink not to keep them and not to unwind.
            unsafe { sink(ctx, batch.as_ptr(), count) != 0 }
        };
        *sent = c.send_tls(&mut lend)?;
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_is_handshaking(conn: *const tlsb_conn) -> c_int {
    value(conn, 0, |c| c_int::from(c.is_handshaking()))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_read_plain(
    conn: *mut tlsb_conn,
    buf: *mut u8,
    cap: usize,
    n: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let n = ffi::out(n, "n")?;
        *n = 0;
        let (code, got) = c.read_plain(out_bytes(buf, cap, "buf")?)?;
        *n = got;
        Ok(code)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_write_plain(
    conn: *mut tlsb_conn,
    buf: *const u8,
    len: usize,
    n: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let n = ffi::out(n, "n")?;
        *n = 0;
        *n = c.write_plain(in_bytes(buf, len, "buf")?)?;
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_send_close_notify(conn: *mut tlsb_conn) -> tlsb_result {
    with_mut(conn, std::ptr::null_mut(), |c| {
        c.send_close_notify();
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_protocol_version(conn: *const tlsb_conn) -> u16 {
    value(conn, 0, |c| c.conn().and_then(|s| s.protocol_version()).map(|v| v.get_u16()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_cipher_suite(conn: *const tlsb_conn) -> u16 {
    value(conn, 0, |c| {
        c.conn().and_then(|s| s.negotiated_cipher_suite()).map(|s| s.suite().get_u16()).unwrap_or(0)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_alpn(conn: *const tlsb_conn, proto: *mut *const u8, len: *mut usize) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let proto = ffi::out(proto, "proto")?;
        let len = ffi::out(len, "len")?;
        put_span(proto, len, c.conn().and_then(|s| s.alpn_protocol()).unwrap_or(&[]));
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_sni(conn: *const tlsb_conn, name: *mut *const u8, len: *mut usize) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let name = ffi::out(name, "name")?;
        let len = ffi::out(len, "len")?;
        let sni = match c.conn() {
            Some(rustls::Connection::Server(s)) => s.sni_hostname().map(|n| n.as_bytes()),
            Some(rustls::Connection::Client(_)) => c.client_server_name(),
            None => None,
        };
        let sni = match sni {
            Some(s) => s,
            None => c.hello_sni().unwrap_or(&[]),
        };
        put_span(name, len, sni);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_peer_cert_count(conn: *const tlsb_conn) -> usize {
    value(conn, 0, |c| c.conn().and_then(|s| s.peer_certificates()).map(|p| p.len()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_peer_cert(
    conn: *const tlsb_conn,
    index: usize,
    der: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let der = ffi::out(der, "der")?;
        let len = ffi::out(len, "len")?;
        let certs = c.conn().and_then(|s| s.peer_certificates()).unwrap_or(&[]);
        let cert = certs.get(index).ok_or_else(|| Failure::invalid("peer certificate index out of range"))?;
        put_span(der, len, &cert.0);
        Ok(TLSB_OK)
    })
}

// ---- resumption, the certificate sent, key sizes -------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_conn_is_resumed(conn: *const tlsb_conn) -> c_int {
    value(conn, 0, |c| c_int::from(c.is_resumed()))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_server_cert_count(conn: *const tlsb_conn) -> usize {
    value(conn, 0, |c| c.server_chain().len())
}

#[no_mangle]
pub extern "C" fn tlsb_conn_server_cert(
    conn: *const tlsb_conn,
    index: usize,
    der: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let der = ffi::out(der, "der")?;
        let len = ffi::out(len, "len")?;
        let cert: &Certificate =
            c.server_chain().get(index).ok_or_else(|| Failure::invalid("server certificate index out of range"))?;
        put_span(der, len, &cert.0);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cipher_suite_key_bits(suite: u16) -> u16 {
    suite_bits::key_bits(suite)
}

// ---- certificate fields ------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_cert_info_new(
    der: *const u8,
    len: usize,
    out: *mut *mut tlsb_cert_info,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        if der.is_null() {
            return Err(Failure::null("der"));
        }
        *out = into_handle(tlsb_cert_info::from_der(in_bytes(der, len, "der")?)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_free(info: *mut tlsb_cert_info) {
    free_handle(info)
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_field(
    info: *const tlsb_cert_info,
    field: u32,
    text: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(info, std::ptr::null_mut(), |i| {
        let text = ffi::out(text, "text")?;
        let len = ffi::out(len, "len")?;
        put_span(text, len, i.field(field)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_dn_count(info: *const tlsb_cert_info, name: u32) -> usize {
    value(info, 0, |i| i.dn(name).map(|d| d.len()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_dn_entry(
    info: *const tlsb_cert_info,
    name: u32,
    index: usize,
    tag: *mut *const c_char,
    value_out: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(info, std::ptr::null_mut(), |i| {
        let tag = ffi::out(tag, "tag")?;
        let value_out = ffi::out(value_out, "value")?;
        let len = ffi::out(len, "len")?;
        let entry = i.dn(name)?.get(index).ok_or_else(|| Failure::invalid("DN entry index out of range"))?;
        *tag = certinfo::tag_cstr(entry.tag);
        put_span(value_out, len, &entry.value);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_san_count(info: *const tlsb_cert_info, kind: u32) -> usize {
    value(info, 0, |i| i.san(kind).map(|d| d.len()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_san(
    info: *const tlsb_cert_info,
    kind: u32,
    index: usize,
    value_out: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(info, std::ptr::null_mut(), |i| {
        let value_out = ffi::out(value_out, "value")?;
        let len = ffi::out(len, "len")?;
        let v = i.san(kind)?.get(index).ok_or_else(|| Failure::invalid("subjectAltName index out of range"))?;
        put_span(value_out, len, v);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_days_remaining(info: *const tlsb_cert_info, now: i64) -> i64 {
    value(info, 0, |i| i.days_remaining(now))
}

// ---- client configs and connections (TLS to backends) ---------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_client_config_new(
    params: *const tlsb_client_config_params,
    out: *mut *mut tlsb_client_config,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        if params.is_null() {
            return Err(Failure::null("params"));
        }
        // SAFETY: non-NULL, and the caller passes a valid params struct.
        let params = unsafe { &*params };
        *out = into_handle(tlsb_client_config::from_params(params)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_client_config_free(config: *mut tlsb_client_config) {
    free_handle(config)
}

#[no_mangle]
pub extern "C" fn tlsb_client_config_anchor_count(config: *const tlsb_client_config) -> usize {
    value(config, 0, |c| c.anchors)
}

#[no_mangle]
pub extern "C" fn tlsb_conn_new_client(config: *const tlsb_client_config, out: *mut *mut tlsb_conn) -> tlsb_result {
    call(std::ptr::null_mut(), || {
        let out = ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        if config.is_null() {
            return Err(Failure::null("config"));
        }
        // SAFETY: non-NULL config handles come from tlsb_client_config_new and are alive.
        let configs = unsafe { &*config }.configs.clone();
        *out = into_handle(tlsb_conn::new_client(configs));
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_start_client(
    conn: *mut tlsb_conn,
    server_name: *const u8,
    name_len: usize,
    alpn_list: *const u8,
    alpn_len: usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let name = in_bytes(server_name, name_len, "server_name")?;
        let name = std::str::from_utf8(name).map_err(|_| Failure::invalid("the server name is not UTF-8"))?;
        let alpn = client::parse_alpn_list(in_bytes(alpn_list, alpn_len, "alpn_list")?);
        c.start_client(name, alpn)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_is_client(conn: *const tlsb_conn) -> c_int {
    value(conn, 0, |c| c_int::from(c.is_client()))
}
