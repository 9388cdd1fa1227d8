//! Certified keys: a PEM chain and a PEM private key, parsed, checked to match, and shared (Arc)
//! by every server config that uses them.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{Certificate, PrivateKey, SignatureAlgorithm, SignatureScheme};
use rustls_pemfile::Item;

use crate::ffi::*;
use crate::ocsp::{leaf_and_issuer_pem, Staple};

#[allow(non_camel_case_types)]
pub struct tlsb_certified_key {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) algorithm: &'static [u8],
    /// The key with its current OCSP response (ocsp.rs); servers resolve through it.
    pub(crate) staple: Arc<Staple>,
    /// Leaf and issuer (if in the chain) as NUL-terminated PEM for an OCSP client.
    pub(crate) ocsp_pem: Vec<u8>,
    poisoned: AtomicBool,
}

impl Handle for tlsb_certified_key {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

const SUPPORTED_KEYS: &str = "supported: RSA 2048-4096 bits, ECDSA P-256/P-384, Ed25519";
const PROBE: &[u8] = b"mod_tls: does this private key belong to this certificate?";

impl tlsb_certified_key {
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Res<Self> {
        let chain = parse_chain(cert_pem)?;
        let der = parse_key(key_pem)?;
        let signing_key = rustls::sign::any_supported_type(&PrivateKey(der)).map_err(|_| {
            Failure::new(
                TLSB_ERR_KEY,
                format!("unsupported or malformed private key ({})", SUPPORTED_KEYS),
            )
        })?;
        // rustls 0.20's Ed25519 key reports SignatureAlgorithm::Unknown(0), so ask it to sign.
        let algorithm: &'static [u8] = match signing_key.algorithm() {
            SignatureAlgorithm::RSA => b"RSA\0",
            SignatureAlgorithm::ECDSA => b"ECDSA\0",
            _ if signing_key.choose_scheme(&[SignatureScheme::ED25519]).is_some() => b"Ed25519\0",
            _ => return Err(Failure::new(TLSB_ERR_KEY, format!("unsupported key type ({})", SUPPORTED_KEYS))),
        };
        check_match(&*signing_key, &chain[0].0)?;
        let mut ocsp_pem = leaf_and_issuer_pem(&chain).into_bytes();
        ocsp_pem.push(0);
        let key = Arc::new(CertifiedKey::new(chain, signing_key));
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
        .map_err(|e| Failure::new(TLSB_ERR_PEM, format!("invalid PEM data in the {}: {}", what, e)))
}

fn parse_chain(pem: &[u8]) -> Res<Vec<Certificate>> {
    let chain: Vec<Certificate> = read_items(pem, "certificate file")?
        .into_iter()
        .filter_map(|item| match item {
            Item::X509Certificate(der) => Some(Certificate(der)),
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

fn parse_key(pem: &[u8]) -> Res<Vec<u8>> {
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
            Item::PKCS8Key(der) | Item::RSAKey(der) | Item::ECKey(der) => Some(der),
            _ => None,
        })
        .ok_or_else(|| Failure::new(TLSB_ERR_PEM, "no private key found"))
}

/// Signs a probe with the key and verifies it with the end-entity certificate's public key.
fn check_match(key: &dyn SigningKey, end_entity: &[u8]) -> Res<()> {
    let signer = key
        .choose_scheme(&[
            SignatureScheme::ED25519,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256,
        ])
        .ok_or_else(|| Failure::new(TLSB_ERR_KEY, format!("the key cannot sign with a supported scheme ({})", SUPPORTED_KEYS)))?;
    let scheme = signer.scheme();
    let sig = signer
        .sign(PROBE)
        .map_err(|e| Failure::new(TLSB_ERR_KEY, format!("the private key cannot sign: {}", e)))?;
    let mismatch = || Failure::new(TLSB_ERR_KEY_MISMATCH, "the private key does not match the certificate");
    match webpki::EndEntityCert::try_from(end_entity) {
        Ok(cert) => {
            let alg: &webpki::SignatureAlgorithm = match scheme {
                SignatureScheme::ED25519 => &webpki::ED25519,
                SignatureScheme::ECDSA_NISTP256_SHA256 => &webpki::ECDSA_P256_SHA256,
                SignatureScheme::ECDSA_NISTP384_SHA384 => &webpki::ECDSA_P384_SHA384,
                SignatureScheme::RSA_PSS_SHA256 => &webpki::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
                SignatureScheme::RSA_PKCS1_SHA256 => &webpki::RSA_PKCS1_2048_8192_SHA256,
                _ => return Err(Failure::new(TLSB_ERR_KEY, "unexpected signature scheme")),
            };
            cert.verify_signature(alg, PROBE, &sig).map_err(|_| mismatch())
        }
        // webpki refuses certificates with critical extensions it does not know, such as the
        // acmeIdentifier of ACME tls-alpn-01 challenge certificates (RFC 8737): check the key
        // against the certificate's subjectPublicKeyInfo directly.
        Err(webpki::Error::UnsupportedCriticalExtension) => {
            let alg: &dyn ring::signature::VerificationAlgorithm = match scheme {
                SignatureScheme::ED25519 => &ring::signature::ED25519,
                SignatureScheme::ECDSA_NISTP256_SHA256 => &ring::signature::ECDSA_P256_SHA256_ASN1,
                SignatureScheme::ECDSA_NISTP384_SHA384 => &ring::signature::ECDSA_P384_SHA384_ASN1,
                SignatureScheme::RSA_PSS_SHA256 => &ring::signature::RSA_PSS_2048_8192_SHA256,
                SignatureScheme::RSA_PKCS1_SHA256 => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                _ => return Err(Failure::new(TLSB_ERR_KEY, "unexpected signature scheme")),
            };
            ring::signature::UnparsedPublicKey::new(alg, subject_public_key(end_entity)?)
                .verify(PROBE, &sig)
                .map_err(|_| mismatch())
        }
        Err(e) => Err(Failure::new(TLSB_ERR_PEM, format!("the certificate could not be parsed: {:?}", e))),
    }
}

/// The subjectPublicKey bits of a DER certificate.
fn subject_public_key(cert: &[u8]) -> Res<&[u8]> {
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
    let mut parts = spki.children("subjectPublicKeyInfo")?;
    parts.expect("algorithm")?;
    let bits = parts.expect("subjectPublicKey")?;
    // BIT STRING: a leading count of unused bits, 0 for keys.
    match bits.content.split_first() {
        Some((0, key)) if bits.is_universal(3) => Ok(key),
        _ => Err(malformed("subjectPublicKey")),
    }
}
