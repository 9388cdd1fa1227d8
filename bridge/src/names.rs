//! Static names for result codes, alerts, cipher suites and protocol versions.

use std::os::raw::c_char;

use crate::ffi::*;

pub fn result_name(r: u32) -> &'static [u8] {
    match r {
        0 => b"TLSB_OK\0",
        1 => b"TLSB_HELLO_READY\0",
        2 => b"TLSB_WOULD_BLOCK\0",
        3 => b"TLSB_CLOSED\0",
        100 => b"TLSB_ERR_NULL\0",
        101 => b"TLSB_ERR_INVALID\0",
        102 => b"TLSB_ERR_PANIC\0",
        103 => b"TLSB_ERR_TLS\0",
        104 => b"TLSB_ERR_PEM\0",
        105 => b"TLSB_ERR_KEY\0",
        106 => b"TLSB_ERR_KEY_MISMATCH\0",
        107 => b"TLSB_ERR_CONFIG\0",
        108 => b"TLSB_ERR_BUFFER\0",
        109 => b"TLSB_ERR_IO\0",
        _ => b"unknown\0",
    }
}

/// TLS AlertDescription names (RFC 8446 section 6 and the TLS Alert registry), "none" for
/// TLSB_NO_ALERT.
pub fn alert_name(a: u16) -> &'static [u8] {
    match a {
        0 => b"close_notify\0",
        10 => b"unexpected_message\0",
        20 => b"bad_record_mac\0",
        21 => b"decryption_failed\0",
        22 => b"record_overflow\0",
        30 => b"decompression_failure\0",
        40 => b"handshake_failure\0",
        41 => b"no_certificate\0",
        42 => b"bad_certificate\0",
        43 => b"unsupported_certificate\0",
        44 => b"certificate_revoked\0",
        45 => b"certificate_expired\0",
        46 => b"certificate_unknown\0",
        47 => b"illegal_parameter\0",
        48 => b"unknown_ca\0",
        49 => b"access_denied\0",
        50 => b"decode_error\0",
        51 => b"decrypt_error\0",
        60 => b"export_restriction\0",
        70 => b"protocol_version\0",
        71 => b"insufficient_security\0",
        80 => b"internal_error\0",
        86 => b"inappropriate_fallback\0",
        90 => b"user_canceled\0",
        100 => b"no_renegotiation\0",
        109 => b"missing_extension\0",
        110 => b"unsupported_extension\0",
        111 => b"certificate_unobtainable\0",
        112 => b"unrecognized_name\0",
        113 => b"bad_certificate_status_response\0",
        114 => b"bad_certificate_hash_value\0",
        115 => b"unknown_psk_identity\0",
        116 => b"certificate_required\0",
        120 => b"no_application_protocol\0",
        121 => b"ech_required\0",
        TLSB_NO_ALERT => b"none\0",
        _ => b"unknown\0",
    }
}

/// The name without its NUL, for messages.
pub fn alert_str(a: u8) -> &'static str {
    let n = alert_name(u16::from(a));
    std::str::from_utf8(&n[..n.len() - 1]).unwrap_or("unknown")
}

/// IANA names of the suites rustls implements (with the ring provider).
pub fn cipher_suite_name(s: u16) -> &'static [u8] {
    match s {
        0x1301 => b"TLS_AES_128_GCM_SHA256\0",
        0x1302 => b"TLS_AES_256_GCM_SHA384\0",
        0x1303 => b"TLS_CHACHA20_POLY1305_SHA256\0",
        0xC02B => b"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\0",
        0xC02C => b"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\0",
        0xCCA9 => b"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256\0",
        0xC02F => b"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\0",
        0xC030 => b"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\0",
        0xCCA8 => b"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\0",
        _ => b"unknown\0",
    }
}

pub fn protocol_version_name(v: u16) -> &'static [u8] {
    match v {
        0x0303 => b"TLSv1.2\0",
        0x0304 => b"TLSv1.3\0",
        _ => b"unknown\0",
    }
}

/// "rustls/<version>" of the rustls linked (build.rs reads it from Cargo.lock).
pub const RUSTLS_VERSION: &str = concat!("rustls/", env!("TLSB_RUSTLS_VERSION"), "\0");

/// The suites of the ring provider as IANA ids, in its default preference order.
pub fn supported_cipher_suites() -> &'static [u16] {
    static IDS: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        rustls::crypto::ring::DEFAULT_CIPHER_SUITES.iter().map(|s| u16::from(s.suite())).collect()
    })
}

// ---- the C ABI: static names ----------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_result_name(result: u32) -> *const c_char {
    guarded(cstr(b"unknown\0"), || cstr(result_name(result)))
}

#[no_mangle]
pub extern "C" fn tlsb_alert_name(alert: u16) -> *const c_char {
    guarded(cstr(b"unknown\0"), || cstr(alert_name(alert)))
}

#[no_mangle]
pub extern "C" fn tlsb_cipher_suite_name(suite: u16) -> *const c_char {
    guarded(cstr(b"unknown\0"), || cstr(cipher_suite_name(suite)))
}

#[no_mangle]
pub extern "C" fn tlsb_protocol_version_name(version: u16) -> *const c_char {
    guarded(cstr(b"unknown\0"), || cstr(protocol_version_name(version)))
}

#[no_mangle]
pub extern "C" fn tlsb_rustls_version() -> *const c_char {
    guarded(cstr(b"rustls\0"), || cstr(RUSTLS_VERSION.as_bytes()))
}

#[no_mangle]
pub extern "C" fn tlsb_supported_cipher_suites(out: *mut *const u16, count: *mut usize) -> tlsb_result {
    call(std::ptr::null_mut(), || {
        let out = crate::ffi::out(out, "out")?;
        let count = crate::ffi::out(count, "count")?;
        let ids = supported_cipher_suites();
        *out = ids.as_ptr();
        *count = ids.len();
        Ok(TLSB_OK)
    })
}
