//! Key sizes of the cipher suites rustls implements (SSL_CIPHER_USEKEYSIZE / ALGKEYSIZE).

/// Bits of the bulk cipher's key: AES-128 128, AES-256 and ChaCha20 256; 0 for unknown suites.
/// Every suite rustls implements uses its cipher's full key, so "used" and "algorithm" sizes agree.
pub fn key_bits(suite: u16) -> u16 {
    match suite {
        0x1301 | 0xC02B | 0xC02F => 128,
        0x1302 | 0xC02C | 0xC030 => 256,
        0x1303 | 0xCCA9 | 0xCCA8 => 256,
        _ => 0,
    }
}

// ---- the C ABI (tls_bridge.h) ----------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_cipher_suite_key_bits(suite: u16) -> u16 {
    crate::ffi::guarded(0, || key_bits(suite))
}
