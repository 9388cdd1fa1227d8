//! OCSP stapling. Each certified key owns a `Staple`: the key as configured, plus the variant
//! that carries the OCSP response to staple now. The C++ side reports the current response
//! (mod_md fetches and caches it); the resolver hands rustls whichever variant is current, so
//! configs are never rebuilt. A key that never had a response costs one atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use rustls::sign::CertifiedKey;
use rustls::pki_types::CertificateDer;

use base64::Engine;
use std::os::raw::c_char;

use crate::ffi::*;
use crate::key::tlsb_certified_key;

/// Length of the id by which mod_md knows a certificate (SHA-256 of the leaf's DER).
pub const OCSP_ID_LEN: usize = 32;

#[derive(Debug)]
pub struct Staple {
    base: Arc<CertifiedKey>,
    /// Set once a response was ever reported; until then `key()` takes no lock.
    used: AtomicBool,
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl Staple {
    pub fn new(base: Arc<CertifiedKey>) -> Self {
        Staple { base, used: AtomicBool::new(false), current: RwLock::new(None) }
    }

    /// The key as configured (no OCSP response).
    pub fn base(&self) -> &Arc<CertifiedKey> {
        &self.base
    }

    /// The key to hand rustls now: with the current OCSP response, if there is one.
    pub fn key(&self) -> Arc<CertifiedKey> {
        if !self.used.load(Ordering::Acquire) {
            return self.base.clone();
        }
        match self.current.read() {
            Ok(cur) => cur.as_ref().unwrap_or(&self.base).clone(),
            Err(_) => self.base.clone(),
        }
    }

    /// Reports the response to staple (DER of an OCSPResponse); empty: staple nothing.
    /// An unchanged response keeps the current variant (no allocation).
    pub fn set(&self, der: &[u8]) {
        if der.is_empty() && !self.used.load(Ordering::Acquire) {
            return;
        }
        if let Ok(cur) = self.current.read() {
            let same = match cur.as_ref().and_then(|k| k.ocsp.as_ref()) {
                Some(old) => old.as_slice() == der,
                None => der.is_empty(),
            };
            if same {
                return;
            }
        }
        let next = if der.is_empty() {
            None
        } else {
            let mut k = CertifiedKey::new(self.base.cert.clone(), self.base.key.clone());
            k.ocsp = Some(der.to_vec());
            Some(Arc::new(k))
        };
        let mut cur = match self.current.write() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        *cur = next;
        self.used.store(true, Ordering::Release);
    }

    /// The response stapled now (empty when none).
    pub fn current_response(&self) -> Vec<u8> {
        self.key().ocsp.clone().unwrap_or_default()
    }
}

/// The id of a certificate for OCSP: SHA-256 of its DER.
pub fn ocsp_id(leaf: &CertificateDer<'_>) -> [u8; OCSP_ID_LEN] {
    let d = ring::digest::digest(&ring::digest::SHA256, leaf.as_ref());
    let mut id = [0u8; OCSP_ID_LEN];
    id.copy_from_slice(d.as_ref());
    id
}

/// The certificate and its issuer (when the chain has one) as PEM — what an OCSP client needs
/// to build a request. Without the issuer, the OCSP client reports that it cannot staple.
pub fn leaf_and_issuer_pem(chain: &[CertificateDer<'_>]) -> String {
    chain.iter().take(2).map(|c| pem("CERTIFICATE", c.as_ref())).collect()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {}-----\n", label);
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {}-----\n", label));
    out
}

// ---- the C ABI: OCSP stapling (ocsp.rs) -----------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_certified_key_ocsp_id(key: *const tlsb_certified_key, id: *mut u8, id_cap: usize) -> tlsb_result {
    with_ref(key, std::ptr::null_mut(), |k| {
        let out = out_bytes(id, id_cap, "id")?;
        if out.len() < OCSP_ID_LEN {
            return Err(Failure::invalid("the id buffer is smaller than TLSB_OCSP_ID_LEN"));
        }
        out[..OCSP_ID_LEN].copy_from_slice(&ocsp_id(&k.key.cert[0]));
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
