//! Certificate revocation lists (RFC 5280 section 5) for client certificates, checked when they are
//! loaded: rustls-webpki parses them and checks revocation during handshakes (client_verify.rs);
//! this module reads the file (PEM or DER) and refuses at startup a CRL that is not signed by the
//! TLSClientCA certificate that issued it, or whose next update is already past.

use rustls::pki_types::CertificateRevocationListDer;
use rustls_pemfile::Item;

use crate::certinfo::{epoch_seconds, name_attributes, parse_time, time_text};
use crate::der::*;
use crate::dn;
use crate::ffi::*;

/// A CA certificate of TLSClientCA: its subject Name (DER) and the certificate.
pub struct Anchor {
    pub subject_der: Vec<u8>,
    pub cert_der: Vec<u8>,
}

/// A CRL that passed the startup checks.
pub struct Crl {
    pub der: CertificateRevocationListDer<'static>,
    /// The issuer as RFC 2253 text and the next update as mod_ssl prints times, for messages.
    pub issuer_text: String,
    pub next_update_text: String,
    pub next_update_secs: i64,
}

fn bad(what: &str) -> Failure {
    Failure::new(TLSB_ERR_CONFIG, format!("malformed CRL: {}", what))
}

/// The CRLs of a TLSClientCRL file: DER (one CRL), or PEM with any number of X509 CRL blocks.
pub fn crls_from_file(data: &[u8]) -> Res<Vec<Vec<u8>>> {
    if data.first() == Some(&0x30) {
        return Ok(vec![data.to_vec()]);
    }
    let mut rd = data;
    let mut out = Vec::new();
    for item in rustls_pemfile::read_all(&mut rd) {
        match item {
            Ok(Item::Crl(der)) => out.push(der.as_ref().to_vec()),
            Ok(_) => {}
            Err(e) => return Err(Failure::new(TLSB_ERR_PEM, format!("the CRL file is neither DER nor valid PEM: {}", e))),
        }
    }
    if out.is_empty() {
        return Err(Failure::new(TLSB_ERR_PEM, "no CRL found (expected PEM '-----BEGIN X509 CRL-----' or DER)"));
    }
    Ok(out)
}

/// A certificate's subject Name, as DER.
pub fn subject_der(cert: &[u8]) -> Res<Vec<u8>> {
    let (c, _) = Tlv::read(cert, "Certificate")?;
    let tbs = c.children("Certificate")?.expect("tbsCertificate")?;
    let mut t = tbs.children("tbsCertificate")?;
    t.optional_context(0, "version")?;
    for what in ["serialNumber", "signature", "issuer", "validity"] {
        t.expect(what)?;
    }
    Ok(t.expect("subject")?.raw.to_vec())
}

/// The webpki algorithms a signature with this AlgorithmIdentifier OID may use (ECDSA: per curve).
fn algorithms(oid: &str) -> Vec<&'static dyn rustls::pki_types::SignatureVerificationAlgorithm> {
    use webpki::ring::*;
    match oid {
        "1.2.840.113549.1.1.11" => vec![RSA_PKCS1_2048_8192_SHA256],
        "1.2.840.113549.1.1.12" => vec![RSA_PKCS1_2048_8192_SHA384],
        "1.2.840.113549.1.1.13" => vec![RSA_PKCS1_2048_8192_SHA512],
        "1.2.840.10045.4.3.2" => vec![ECDSA_P256_SHA256, ECDSA_P384_SHA256],
        "1.2.840.10045.4.3.3" => vec![ECDSA_P384_SHA384, ECDSA_P256_SHA384],
        "1.3.101.112" => vec![ED25519],
        _ => Vec::new(),
    }
}

impl Crl {
    /// Checks one CRL at load time (`now`: seconds since the epoch): webpki can use it, it is
    /// signed by the TLSClientCA certificate named as its issuer, and it is not out of date.
    pub fn checked(der: &[u8], anchors: &[Anchor], now: i64) -> Res<Crl> {
        let (list, rest) = Tlv::read(der, "CertificateList").map_err(|_| bad("CertificateList"))?;
        if !rest.is_empty() || !list.is_universal(TAG_SEQUENCE) {
            return Err(bad("not one SEQUENCE"));
        }
        let mut l = list.children("CertificateList").map_err(|_| bad("CertificateList"))?;
        let tbs = l.expect("tbsCertList").map_err(|_| bad("tbsCertList"))?;
        let sig_alg = crate::certinfo::algorithm_oid(l.expect("signatureAlgorithm").map_err(|_| bad("signatureAlgorithm"))?, "alg")
            .map_err(|_| bad("signatureAlgorithm"))?;
        let sig = l.expect("signatureValue").map_err(|_| bad("signatureValue"))?;
        if !sig.is_universal(3) || sig.content.first() != Some(&0) {
            return Err(bad("signatureValue"));
        }
        let (issuer_der, issuer_text, next_update) = issuer_and_next_update(tbs).map_err(|f| bad(&f.message))?;

        let anchor = anchors.iter().find(|a| a.subject_der == issuer_der).ok_or_else(|| {
            Failure::new(TLSB_ERR_CONFIG, format!("the CRL's issuer ({}) is not a certificate of TLSClientCA", issuer_text))
        })?;
        let anchor_der = rustls::pki_types::CertificateDer::from(anchor.cert_der.as_slice());
        let ca = webpki::EndEntityCert::try_from(&anchor_der)
            .map_err(|e| Failure::new(TLSB_ERR_CONFIG, format!("cannot use the CA certificate of {}: {:?}", issuer_text, e)))?;
        let verifies = algorithms(&sig_alg).iter().any(|alg| ca.verify_signature(*alg, tbs.raw, &sig.content[1..]).is_ok());
        if !verifies {
            return Err(Failure::new(
                TLSB_ERR_CONFIG,
                format!(
                    "the CRL's signature does not verify with the TLSClientCA certificate of {} (signed by another key, damaged, or algorithm {} unsupported)",
                    issuer_text, sig_alg
                ),
            ));
        }
        let (next_update_secs, next_update_text) = next_update;
        if now > next_update_secs {
            return Err(Failure::new(
                TLSB_ERR_CONFIG,
                format!("the CRL of {} is out of date (next update was due {}): fetch a current one", issuer_text, next_update_text),
            ));
        }
        // Last: what webpki needs beyond RFC 5280's syntax (a v2 CRL with extensions, as
        // `openssl ca -gencrl` makes them).
        webpki::OwnedCertRevocationList::from_der(der).map_err(|e| {
            bad(&format!("rustls-webpki cannot use the CRL of {} ({:?}; it needs a v2 CRL with a CRL number)", issuer_text, e))
        })?;
        Ok(Crl { der: CertificateRevocationListDer::from(der.to_vec()), issuer_text, next_update_text, next_update_secs })
    }
}

/// The issuer (DER and text) and the next update (seconds, text) of a tbsCertList. webpki
/// refuses CRLs without a next update, so it is required here too.
fn issuer_and_next_update(tbs: Tlv) -> Res<(Vec<u8>, String, (i64, String))> {
    if !tbs.is_universal(TAG_SEQUENCE) {
        return Err(malformed("tbsCertList"));
    }
    let mut t = tbs.children("tbsCertList")?;
    let mut first = t.expect("tbsCertList")?;
    if first.is_universal(TAG_INTEGER) {
        first = t.expect("signature")?; // version v2
    }
    if !first.is_universal(TAG_SEQUENCE) {
        return Err(malformed("signature"));
    }
    let issuer = t.expect("issuer")?;
    let issuer_text = String::from_utf8_lossy(&dn::dn_text(&name_attributes(issuer, "issuer")?)).into_owned();
    parse_time(&t.expect("thisUpdate")?).ok_or_else(|| malformed("thisUpdate"))?;
    let next = t.expect("nextUpdate")?;
    if !next.is_universal(TAG_UTC_TIME) && !next.is_universal(TAG_GENERALIZED_TIME) {
        return Err(malformed("nextUpdate"));
    }
    let when = parse_time(&next).ok_or_else(|| malformed("nextUpdate"))?;
    Ok((issuer.raw.to_vec(), issuer_text, (epoch_seconds(when), time_text(when))))
}
