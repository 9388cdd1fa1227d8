//! Certified keys: a PEM chain and a PEM private key, parsed, checked to match, and shared (Arc)
//! by every server config that uses them.

use std::os::raw::c_char;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{Error, InconsistentKeys, SignatureAlgorithm};
use rustls_pemfile::Item;

use crate::ffi::*;
use crate::ocsp::{leaf_and_issuer_pem, Staple};

/// A certificate chain with its private key, ready to be served (and its OCSP staple).
#[allow(non_camel_case_types)]
pub struct tlsb_certified_key {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) algorithm: &'static [u8],
    pub(crate) staple: Arc<Staple>,
    /// The leaf and its issuer as PEM (NUL-terminated), for mod_md's OCSP stapling.
    pub(crate) ocsp_pem: Vec<u8>,
    poisoned: AtomicBool,
}

impl Handle for tlsb_certified_key {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

const SUPPORTED_KEYS: &str = "supported: RSA 2048-4096 bits, ECDSA P-256/P-384, Ed25519";

impl tlsb_certified_key {
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Res<Self> {
        let chain = parse_chain(cert_pem)?;
        let der = parse_key(key_pem)?;
        let signing_key = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|_| {
            Failure::new(TLSB_ERR_KEY, format!("unsupported or malformed private key ({})", SUPPORTED_KEYS))
        })?;
        let algorithm: &'static [u8] = match signing_key.algorithm() {
            SignatureAlgorithm::RSA => b"RSA\0",
            SignatureAlgorithm::ECDSA => b"ECDSA\0",
            SignatureAlgorithm::ED25519 => b"Ed25519\0",
            _ => return Err(Failure::new(TLSB_ERR_KEY, format!("unsupported key type ({})", SUPPORTED_KEYS))),
        };
        let mut ocsp_pem = leaf_and_issuer_pem(&chain).into_bytes();
        ocsp_pem.push(0);
        let key = Arc::new(CertifiedKey::new(chain, signing_key));
        check_match(&key)?;
        Ok(tlsb_certified_key {
            staple: Arc::new(Staple::new(key.clone())),
            key,
            algorithm,
            ocsp_pem,
            poisoned: AtomicBool::new(false),
        })
    }
}

fn read_items(pem: &[u8], what: &str) -> Res<Vec<Item>> {
    let mut rd = pem;
    rustls_pemfile::read_all(&mut rd)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::new(TLSB_ERR_PEM, format!("invalid PEM data in the {}: {}", what, e)))
}

fn parse_chain(pem: &[u8]) -> Res<Vec<CertificateDer<'static>>> {
    let chain: Vec<CertificateDer<'static>> = read_items(pem, "certificate file")?
        .into_iter()
        .filter_map(|item| match item {
            Item::X509Certificate(der) => Some(der),
            _ => None,
        })
        .collect();
    if chain.is_empty() {
        return Err(Failure::new(TLSB_ERR_PEM, "no certificate found in PEM data"));
    }
    Ok(chain)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The first private key in `pem`: PKCS#8, PKCS#1 (RSA) or SEC1 (EC). Encrypted keys are refused.
fn parse_key(pem: &[u8]) -> Res<PrivateKeyDer<'static>> {
    if contains(pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(pem, b"Proc-Type: 4,ENCRYPTED") {
        return Err(Failure::new(
            TLSB_ERR_PEM,
            "the private key is encrypted; mod_tls needs an unencrypted key \
             (decrypt it with: openssl pkey -in KEY -out KEY.plain)",
        ));
    }
    read_items(pem, "private key file")?
        .into_iter()
        .find_map(|item| match item {
            Item::Pkcs8Key(k) => Some(PrivateKeyDer::from(k)),
            Item::Pkcs1Key(k) => Some(PrivateKeyDer::from(k)),
            Item::Sec1Key(k) => Some(PrivateKeyDer::from(k)),
            _ => None,
        })
        .ok_or_else(|| Failure::new(TLSB_ERR_PEM, "no private key found"))
}

/// The private key must be the certificate's: rustls compares the key's public half with the
/// certificate's SubjectPublicKeyInfo. Where webpki cannot parse the certificate (an unsupported
/// critical extension, say), the DER walker finds the SubjectPublicKeyInfo instead.
fn check_match(key: &CertifiedKey) -> Res<()> {
    let mismatch = || Failure::new(TLSB_ERR_KEY_MISMATCH, "the private key does not match the certificate");
    match key.keys_match() {
        Ok(()) => Ok(()),
        Err(Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => Err(mismatch()),
        // The key cannot tell its public half; nothing to compare (as rustls's own from_der).
        Err(Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(_) => {
            let cert_spki = subject_public_key_info(&key.cert[0])
                .map_err(|f| Failure::new(TLSB_ERR_PEM, format!("the certificate could not be parsed ({})", f.message)))?;
            match key.key.public_key() {
                Some(spki) if spki.as_ref() == cert_spki => Ok(()),
                Some(_) => Err(mismatch()),
                None => Ok(()),
            }
        }
    }
}

/// The certificate's SubjectPublicKeyInfo, as DER.
fn subject_public_key_info(cert: &[u8]) -> Res<&[u8]> {
    use crate::der::{malformed, Tlv, TAG_SEQUENCE};
    let (outer, _) = Tlv::read(cert, "certificate")?;
    let tbs = outer.children("certificate")?.expect("tbsCertificate")?;
    if !outer.is_universal(TAG_SEQUENCE) || !tbs.is_universal(TAG_SEQUENCE) {
        return Err(malformed("tbsCertificate"));
    }
    let mut t = tbs.children("tbsCertificate")?;
    t.optional_context(0, "version")?;
    for what in ["serialNumber", "signature", "issuer", "validity", "subject"] {
        t.expect(what)?;
    }
    let spki = t.expect("subjectPublicKeyInfo")?;
    if !spki.is_universal(TAG_SEQUENCE) {
        return Err(malformed("subjectPublicKeyInfo"));
    }
    Ok(spki.raw)
}

// ---- the C ABI: certified keys --------------------------------------------------------

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
        let out = crate::ffi::out(out, "out")?;
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
        let der = crate::ffi::out(der, "der")?;
        let len = crate::ffi::out(len, "len")?;
        let cert = k.key.cert.get(index).ok_or_else(|| Failure::invalid("chain index out of range"))?;
        put_span(der, len, cert.as_ref());
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_certified_key_algorithm(key: *const tlsb_certified_key) -> *const c_char {
    value(key, cstr(b"unknown\0"), |k| cstr(k.algorithm))
}
