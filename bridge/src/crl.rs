//! Certificate revocation lists (RFC 5280 section 5) for client certificates: PEM or DER read,
//! parsed with the DER walker, and their signature verified against the trust anchor that issued
//! them. rustls 0.20 has no CRL support; client_verify.rs consults these after rustls's own
//! chain verification.

use crate::certinfo::{epoch_seconds, name_attributes, parse_time, time_text};
use crate::der::*;
use crate::dn;
use crate::ffi::*;

/// One verified CRL, reduced to what the revocation check needs.
#[derive(Clone)]
pub struct Crl {
    /// DER of the issuer Name, compared with certificates' issuer Names.
    pub issuer_der: Vec<u8>,
    /// The issuer as RFC 2253 text, for log lines.
    pub issuer_text: String,
    /// nextUpdate in seconds since the epoch, and as text; None when the CRL has none.
    pub next_update: Option<(i64, String)>,
    /// Serial numbers of the revoked certificates (INTEGER contents, leading zero bytes removed).
    revoked: Vec<Vec<u8>>,
}

/// A CA certificate of TLSClientCA: its subject Name and the DER that webpki verifies with.
pub struct Anchor {
    pub subject_der: Vec<u8>,
    pub cert_der: Vec<u8>,
}

fn bad(what: &str) -> Failure {
    Failure::new(TLSB_ERR_CONFIG, format!("malformed CRL: {}", what))
}

/// The INTEGER content without redundant leading zero bytes (serials compare by value).
pub fn serial_key(content: &[u8]) -> &[u8] {
    let mut s = content;
    while s.len() > 1 && s[0] == 0 && s[1] & 0x80 == 0 {
        s = &s[1..];
    }
    s
}

/// The DER CRLs in `data`: PEM blocks "X509 CRL", or the whole input as one DER CRL.
pub fn crls_from_file(data: &[u8]) -> Res<Vec<Vec<u8>>> {
    const BEGIN: &str = "-----BEGIN X509 CRL-----";
    const END: &str = "-----END X509 CRL-----";
    if data.first() == Some(&0x30) {
        return Ok(vec![data.to_vec()]);
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| Failure::new(TLSB_ERR_PEM, "the CRL file is neither DER nor PEM text"))?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let body_start = start + BEGIN.len();
        let end = rest[body_start..]
            .find(END)
            .ok_or_else(|| Failure::new(TLSB_ERR_PEM, "a PEM CRL block has no END line"))?;
        let b64: String = rest[body_start..body_start + end].chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::decode(&b64).map_err(|_| Failure::new(TLSB_ERR_PEM, "a PEM CRL block is not valid base64"))?;
        out.push(der);
        rest = &rest[body_start + end + END.len()..];
    }
    if out.is_empty() {
        return Err(Failure::new(TLSB_ERR_PEM, "no CRL found (expected PEM '-----BEGIN X509 CRL-----' or DER)"));
    }
    Ok(out)
}

/// The subject Name (DER) of a certificate.
pub fn subject_der(cert: &[u8]) -> Res<Vec<u8>> {
    Ok(tbs_names(cert)?.1)
}

/// (issuer Name DER, subject Name DER, serial INTEGER content) of a certificate.
pub fn tbs_names(cert: &[u8]) -> Res<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let (c, _) = Tlv::read(cert, "Certificate")?;
    let tbs = c.children("Certificate")?.expect("tbsCertificate")?;
    let mut t = tbs.children("tbsCertificate")?;
    t.optional_context(0, "version")?;
    let serial = t.expect("serialNumber")?;
    if !serial.is_universal(TAG_INTEGER) {
        return Err(malformed("serialNumber"));
    }
    t.expect("signature")?;
    let issuer = t.expect("issuer")?;
    t.expect("validity")?;
    let subject = t.expect("subject")?;
    Ok((issuer.raw.to_vec(), subject.raw.to_vec(), serial.content.to_vec()))
}

/// The webpki algorithms a signature with this AlgorithmIdentifier OID may use (ECDSA: per curve).
fn algorithms(oid: &str) -> Vec<&'static webpki::SignatureAlgorithm> {
    match oid {
        "1.2.840.113549.1.1.11" => vec![&webpki::RSA_PKCS1_2048_8192_SHA256],
        "1.2.840.113549.1.1.12" => vec![&webpki::RSA_PKCS1_2048_8192_SHA384],
        "1.2.840.113549.1.1.13" => vec![&webpki::RSA_PKCS1_2048_8192_SHA512],
        "1.2.840.10045.4.3.2" => vec![&webpki::ECDSA_P256_SHA256, &webpki::ECDSA_P384_SHA256],
        "1.2.840.10045.4.3.3" => vec![&webpki::ECDSA_P384_SHA384, &webpki::ECDSA_P256_SHA384],
        "1.3.101.112" => vec![&webpki::ED25519],
        _ => Vec::new(),
    }
}

impl Crl {
    /// Parses a DER CRL and verifies its signature with the anchor whose subject is its issuer.
    pub fn verified(der: &[u8], anchors: &[Anchor]) -> Res<Crl> {
        let (list, rest) = Tlv::read(der, "CertificateList").map_err(|_| bad("CertificateList"))?;
        if !rest.is_empty() || !list.is_universal(TAG_SEQUENCE) {
            return Err(bad("not one SEQUENCE"));
        }
        let mut l = list.children("CertificateList").map_err(|_| bad("CertificateList"))?;
        let tbs = l.expect("tbsCertList").map_err(|_| bad("tbsCertList"))?;
        let sig_alg = algorithm_oid(l.expect("signatureAlgorithm").map_err(|_| bad("signatureAlgorithm"))?, "alg")
            .map_err(|_| bad("signatureAlgorithm"))?;
        let sig = l.expect("signatureValue").map_err(|_| bad("signatureValue"))?;
        if !sig.is_universal(3) || sig.content.first() != Some(&0) {
            return Err(bad("signatureValue"));
        }
        let crl = Crl::parse_tbs(tbs).map_err(|f| bad(&f.message))?;

        let anchor = anchors.iter().find(|a| a.subject_der == crl.issuer_der).ok_or_else(|| {
            Failure::new(
                TLSB_ERR_CONFIG,
                format!("the CRL's issuer ({}) is not a certificate of TLSClientCA", crl.issuer_text),
            )
        })?;
        let ca = webpki::EndEntityCert::try_from(anchor.cert_der.as_slice())
            .map_err(|e| Failure::new(TLSB_ERR_CONFIG, format!("cannot use the CA certificate of {}: {:?}", crl.issuer_text, e)))?;
        let verifies = algorithms(&sig_alg).iter().any(|alg| ca.verify_signature(alg, tbs.raw, &sig.content[1..]).is_ok());
        if !verifies {
            return Err(Failure::new(
                TLSB_ERR_CONFIG,
                format!(
                    "the CRL's signature does not verify with the TLSClientCA certificate of {} (signed by another key, damaged, or algorithm {} unsupported)",
                    crl.issuer_text, sig_alg
                ),
            ));
        }
        Ok(crl)
    }

    fn parse_tbs(tbs: Tlv) -> Res<Crl> {
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
        let mut next_update = None;
        let mut revoked = Vec::new();
        while let Some(e) = t.next("tbsCertList")? {
            if e.is_universal(TAG_UTC_TIME) || e.is_universal(TAG_GENERALIZED_TIME) {
                let when = parse_time(&e).ok_or_else(|| malformed("nextUpdate"))?;
                next_update = Some((epoch_seconds(when), time_text(when)));
            } else if e.is_universal(TAG_SEQUENCE) {
                let mut entries = e.children("revokedCertificates")?;
                while let Some(entry) = entries.next("revokedCertificate")? {
                    let serial = entry.children("revokedCertificate")?.expect("userCertificate")?;
                    if !serial.is_universal(TAG_INTEGER) || serial.content.is_empty() {
                        return Err(malformed("userCertificate"));
                    }
                    revoked.push(serial_key(serial.content).to_vec());
                }
            } else if e.is(CLASS_CONTEXT, 0) {
                // crlExtensions: nothing in them changes which serials are revoked here.
            } else {
                return Err(malformed("tbsCertList element"));
            }
        }
        Ok(Crl { issuer_der: issuer.raw.to_vec(), issuer_text, next_update, revoked })
    }

    pub fn is_revoked(&self, serial_content: &[u8]) -> bool {
        let key = serial_key(serial_content);
        self.revoked.iter().any(|s| s.as_slice() == key)
    }

    /// Whether `now` (seconds since the epoch) is past nextUpdate.
    pub fn is_expired(&self, now: i64) -> bool {
        matches!(self.next_update, Some((t, _)) if now > t)
    }
}

fn algorithm_oid(alg: Tlv, what: &str) -> Res<String> {
    crate::certinfo::algorithm_oid(alg, what)
}
