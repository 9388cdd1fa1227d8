//! Client certificate verification of one host (TLSClientCA, TLSClientCertificate,
//! TLSClientCRL): rustls's own chain verification (webpki) wrapped with a revocation check
//! against CRLs verified at startup, and failure reasons that say which alert fits.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::server::{AllowAnyAuthenticatedClient, ClientCertVerified, ClientCertVerifier};
use rustls::{Certificate, DistinguishedNames, Error, RootCertStore};

use crate::alerts::*;
use crate::certinfo::{tlsb_cert_info, FIELD_SERIAL, FIELD_SUBJECT_DN};
use crate::crl::{crls_from_file, tbs_names, Anchor, Crl};
use crate::ffi::*;

pub const MODE_OPTIONAL: u32 = 1;
pub const MODE_REQUIRED: u32 = 2;

pub const BAD_CERTIFICATE_ALERT: u8 = BAD_CERTIFICATE;
pub const CERTIFICATE_REVOKED: u8 = 44;
pub const CERTIFICATE_EXPIRED: u8 = 45;
pub const CERTIFICATE_UNKNOWN: u8 = 46;
pub const UNKNOWN_CA: u8 = 48;
pub const ACCESS_DENIED: u8 = 49;

// Phrases of the reasons below; alert_of() maps them back to alerts.
const REVOKED: &str = "has been revoked";
const EXPIRED: &str = "has expired";
const NOT_YET_VALID: &str = "is not valid yet";
const UNKNOWN_ISSUER: &str = "is not issued by a TLSClientCA certificate";
const CRL_EXPIRED: &str = "revocation cannot be checked";

/// The alert that fits a client certificate refused by `ClientAuth` (its reason text).
pub fn alert_of(reason: &str) -> Option<u8> {
    if !reason.starts_with("the client certificate") {
        return None;
    }
    Some(if reason.contains(REVOKED) {
        CERTIFICATE_REVOKED
    } else if reason.contains(EXPIRED) || reason.contains(NOT_YET_VALID) {
        CERTIFICATE_EXPIRED
    } else if reason.contains(UNKNOWN_ISSUER) {
        UNKNOWN_CA
    } else if reason.contains(CRL_EXPIRED) {
        CERTIFICATE_UNKNOWN
    } else {
        BAD_CERTIFICATE_ALERT
    })
}

/// The verifier a host's rustls config uses when it asks for client certificates.
pub struct ClientAuth {
    chain: Arc<dyn ClientCertVerifier>,
    mandatory: bool,
    crls: Vec<Crl>,
}

/// The builder handle C++ fills at startup (tls_bridge.h: tlsb_client_verifier_*).
#[allow(non_camel_case_types)]
pub struct tlsb_client_verifier {
    mode: u32,
    roots: RootCertStore,
    anchors: Vec<Anchor>,
    crls: Vec<Crl>,
    poisoned: AtomicBool,
}

impl Handle for tlsb_client_verifier {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

impl tlsb_client_verifier {
    /// `ca_pem`: the TLSClientCA file (PEM certificates, at least one).
    pub fn new(mode: u32, ca_pem: &[u8]) -> Res<Self> {
        if mode != MODE_OPTIONAL && mode != MODE_REQUIRED {
            return Err(Failure::invalid("client verification mode must be 1 (optional) or 2 (required)"));
        }
        let mut rd = ca_pem;
        let ders = rustls_pemfile::certs(&mut rd)
            .map_err(|e| Failure::new(TLSB_ERR_PEM, format!("cannot read the CA file as PEM: {}", e)))?;
        if ders.is_empty() {
            return Err(Failure::new(TLSB_ERR_PEM, "no PEM certificate ('-----BEGIN CERTIFICATE-----') in the CA file"));
        }
        let mut roots = RootCertStore::empty();
        let mut anchors = Vec::new();
        for (i, der) in ders.into_iter().enumerate() {
            roots.add(&Certificate(der.clone())).map_err(|e| {
                Failure::new(TLSB_ERR_CONFIG, format!("certificate {} of the CA file is not a usable trust anchor: {}", i + 1, e))
            })?;
            let subject_der = crate::crl::subject_der(&der)
                .map_err(|f| Failure::new(TLSB_ERR_CONFIG, format!("certificate {} of the CA file: {}", i + 1, f.message)))?;
            anchors.push(Anchor { subject_der, cert_der: der });
        }
        Ok(tlsb_client_verifier { mode, roots, anchors, crls: Vec::new(), poisoned: AtomicBool::new(false) })
    }

    /// Adds the CRLs of one TLSClientCRL file (PEM or DER). Each must be signed by a trust anchor
    /// and, at `now` (seconds since the epoch), not be past its nextUpdate. Returns how many.
    pub fn add_crls(&mut self, file: &[u8], now: i64) -> Res<usize> {
        let ders = crls_from_file(file)?;
        let mut added = Vec::new();
        for der in &ders {
            let crl = Crl::verified(der, &self.anchors)?;
            if crl.is_expired(now) {
                let when = crl.next_update.as_ref().map(|(_, t)| t.as_str()).unwrap_or("");
                return Err(Failure::new(
                    TLSB_ERR_CONFIG,
                    format!("the CRL of {} is out of date (next update was due {}): fetch a current one", crl.issuer_text, when),
                ));
            }
            added.push(crl);
        }
        let n = added.len();
        self.crls.extend(added);
        Ok(n)
    }

    /// The verifier for a rustls ServerConfig (CRLs parsed once, shared by every config built).
    pub fn build(&self) -> Arc<dyn ClientCertVerifier> {
        Arc::new(ClientAuth {
            chain: AllowAnyAuthenticatedClient::new(self.roots.clone()),
            mandatory: self.mode == MODE_REQUIRED,
            crls: self.crls.clone(),
        })
    }
}

fn describe(cert: &Certificate) -> (String, String) {
    match tlsb_cert_info::from_der(&cert.0) {
        Ok(info) => {
            let text = |f| info.field(f).map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default();
            (text(FIELD_SUBJECT_DN), text(FIELD_SERIAL))
        }
        Err(_) => ("unparsable".to_string(), String::new()),
    }
}

fn refuse(reason: String) -> Error {
    Error::InvalidCertificateData(reason)
}

impl ClientAuth {
    /// Rewords webpki's verdict on the chain.
    fn chain_failure(e: Error, cert: &Certificate) -> Error {
        let (subject, _) = describe(cert);
        let why = match &e {
            Error::InvalidCertificateData(d) if d.contains("UnknownIssuer") => UNKNOWN_ISSUER.to_string(),
            Error::InvalidCertificateData(d) if d.contains("CertExpired") => EXPIRED.to_string(),
            Error::InvalidCertificateData(d) if d.contains("CertNotValidYet") => NOT_YET_VALID.to_string(),
            other => format!("is invalid ({})", other),
        };
        refuse(format!("the client certificate [{}] {}", subject, why))
    }

    fn check_revocation(&self, chain: &[&Certificate], now: i64) -> Result<(), Error> {
        for cert in chain {
            let (issuer, _, serial) = match tbs_names(&cert.0) {
                Ok(n) => n,
                Err(_) => return Err(refuse("the client certificate is invalid (malformed DER)".to_string())),
            };
            for crl in self.crls.iter().filter(|c| c.issuer_der == issuer) {
                if crl.is_expired(now) {
                    let when = crl.next_update.as_ref().map(|(_, t)| t.as_str()).unwrap_or("");
                    return Err(refuse(format!(
                        "the client certificate is refused: {}: the CRL of {} expired {} (refresh the TLSClientCRL file, then restart gracefully)",
                        CRL_EXPIRED, crl.issuer_text, when
                    )));
                }
                if crl.is_revoked(&serial) {
                    let (subject, serial_text) = describe(cert);
                    return Err(refuse(format!(
                        "the client certificate [{}] {} (serial {}, issuer {})",
                        subject, REVOKED, serial_text, crl.issuer_text
                    )));
                }
            }
        }
        Ok(())
    }
}

impl ClientCertVerifier for ClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> Option<bool> {
        Some(self.mandatory)
    }

    #[allow(deprecated)]
    fn client_auth_root_subjects(&self) -> Option<DistinguishedNames> {
        self.chain.client_auth_root_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &Certificate,
        intermediates: &[Certificate],
        now: SystemTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .chain
            .verify_client_cert(end_entity, intermediates, now)
            .map_err(|e| ClientAuth::chain_failure(e, end_entity))?;
        if !self.crls.is_empty() {
            let secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
            let chain: Vec<&Certificate> = std::iter::once(end_entity).chain(intermediates.iter()).collect();
            self.check_revocation(&chain, secs)?;
        }
        Ok(verified)
    }
}

/// rustls 0.20 answers every refused client certificate with handshake_failure. Under TLS 1.2
/// that alert is still a plaintext record (the client's Certificate precedes its
/// ChangeCipherSpec), so the bridge rewrites it to the alert that says why; under TLS 1.3 it is
/// encrypted and tls13_alert.rs re-seals it (given the handshake's logged secrets). Should that
/// not succeed, rustls's alert goes out unchanged. Either way `f.alert_sent` tells what went out.
pub fn settle_alert(
    conn: &mut rustls::ServerConnection,
    e: &Error,
    f: &mut Failure,
    out: &mut Vec<u8>,
    secrets_key: Option<&[u8]>,
) {
    let desired = match e {
        Error::InvalidCertificateData(why) => match alert_of(why) {
            Some(a) => a,
            None => return,
        },
        // Our verifier words every chain failure itself, so these come from the client's
        // CertificateVerify; rustls answers them with access_denied.
        Error::InvalidCertificateSignature | Error::InvalidCertificateSignatureType => {
            f.alert_sent = Some(ACCESS_DENIED);
            f.message = "handshake failed: the client's signature (CertificateVerify) does not \
                         verify with its certificate's key: it does not hold that certificate's \
                         private key"
                .to_string();
            return;
        }
        _ => return,
    };
    f.alert_sent = Some(HANDSHAKE_FAILURE);
    let tls12 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_2);
    let suite = conn.negotiated_cipher_suite().map(|s| s.suite());
    let mut pending = Vec::new();
    while conn.wants_write() {
        match conn.write_tls(&mut pending) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let plain_alert = fatal_alert_record(HANDSHAKE_FAILURE);
    if !tls12 {
        if let (Some(key), Some(suite)) = (secrets_key, suite) {
            if crate::tls13_alert::rewrite(&mut pending, key, suite, HANDSHAKE_FAILURE, desired) {
                f.alert_sent = Some(desired);
            }
        }
    } else if pending.ends_with(&plain_alert) {
        let at = pending.len() - 1;
        pending[at] = desired;
        f.alert_sent = Some(desired);
    }
    out.extend_from_slice(&pending);
}
