//! Key exchange groups (TLSGroups) and the crypto provider a config is built on: ring's, with the
//! configured cipher suites and groups in preference order, plus our X25519MLKEM768.

use std::sync::Arc;

use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::{NamedGroup, SupportedCipherSuite};

use crate::ffi::*;

/// Every group the bridge offers, in the default preference order: the post-quantum hybrid
/// first, so a client that offers it gets it, and the classic ones for every other client.
pub fn all_groups() -> [&'static dyn SupportedKxGroup; 4] {
    use rustls::crypto::ring::kx_group;
    [crate::kx_mlkem::X25519MLKEM768, kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1]
}

/// IANA TLS Supported Groups names of the groups in `all_groups` (NUL-terminated).
pub fn group_name(id: u16) -> &'static [u8] {
    match id {
        0x11EC => b"X25519MLKEM768\0",
        0x001D => b"x25519\0",
        0x0017 => b"secp256r1\0",
        0x0018 => b"secp384r1\0",
        _ => b"unknown\0",
    }
}

/// The groups of a params array by IANA id, in order; empty: all, in the default order.
pub fn groups_from(p: *const u16, len: usize) -> Res<Vec<&'static dyn SupportedKxGroup>> {
    let ids = in_array(p, len, "params.groups")?;
    if ids.is_empty() {
        return Ok(all_groups().to_vec());
    }
    ids.iter()
        .map(|id| {
            all_groups()
                .into_iter()
                .find(|g| u16::from(g.name()) == *id)
                .ok_or_else(|| Failure::new(TLSB_ERR_CONFIG, format!("key exchange group 0x{:04x} is not supported", id)))
        })
        .collect()
}

/// ring's provider with exactly these suites and groups, in these orders.
pub fn provider(suites: Vec<SupportedCipherSuite>, groups: Vec<&'static dyn SupportedKxGroup>) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider { cipher_suites: suites, kx_groups: groups, ..rustls::crypto::ring::default_provider() })
}

/// The IANA id of a negotiated group.
pub fn group_id(g: &dyn SupportedKxGroup) -> u16 {
    let name: NamedGroup = g.name();
    u16::from(name)
}

// ---- the C ABI: key exchange groups -----------------------------------------------------

/// The supported groups as IANA ids, in the default preference order.
fn supported_ids() -> &'static [u16] {
    static IDS: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    IDS.get_or_init(|| all_groups().iter().map(|g| group_id(*g)).collect())
}

#[no_mangle]
pub extern "C" fn tlsb_supported_kx_groups(out: *mut *const u16, count: *mut usize) -> tlsb_result {
    call(std::ptr::null_mut(), || {
        let out = crate::ffi::out(out, "out")?;
        let count = crate::ffi::out(count, "count")?;
        let ids = supported_ids();
        *out = ids.as_ptr();
        *count = ids.len();
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_kx_group_name(group: u16) -> *const std::os::raw::c_char {
    guarded(cstr(b"unknown\0"), || cstr(group_name(group)))
}
