//! Client certificate verification (TLSClientCertificate, TLSClientCA, TLSClientCRL): rustls's
//! WebPkiClientVerifier checks the chain and, with CRLs, revocation. Our wrapper only puts the
//! refusal into words that name the certificate (for the log line and SSL_CLIENT_VERIFY) and
//! keeps the alerts mod_tls has always sent.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError, RootCertStore, SignatureScheme};

use crate::certinfo::{tlsb_cert_info, FIELD_ISSUER_DN, FIELD_SERIAL, FIELD_SUBJECT_DN};
use crate::crl::{crls_from_file, Anchor, Crl};
use crate::ffi::*;
use crate::observe::refused_because;

pub const MODE_OPTIONAL: u32 = 1;
pub const MODE_REQUIRED: u32 = 2;

#[allow(non_camel_case_types)]
pub struct tlsb_client_verifier {
    mode: u32,
    roots: Arc<RootCertStore>,
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
    pub fn new(mode: u32, ca_pem: &[u8]) -> Res<Self> {
        if mode != MODE_OPTIONAL && mode != MODE_REQUIRED {
            return Err(Failure::invalid("client verification mode must be 1 (optional) or 2 (required)"));
        }
        let mut rd = ca_pem;
        let ders = rustls_pemfile::certs(&mut rd)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::new(TLSB_ERR_PEM, format!("cannot read the CA file as PEM: {}", e)))?;
        if ders.is_empty() {
            return Err(Failure::new(TLSB_ERR_PEM, "no PEM certificate ('-----BEGIN CERTIFICATE-----') in the CA file"));
        }
        let mut roots = RootCertStore::empty();
        let mut anchors = Vec::new();
        for (i, der) in ders.into_iter().enumerate() {
            let subject_der = crate::crl::subject_der(der.as_ref())
                .map_err(|f| Failure::new(TLSB_ERR_CONFIG, format!("certificate {} of the CA file: {}", i + 1, f.message)))?;
            anchors.push(Anchor { subject_der, cert_der: der.as_ref().to_vec() });
            roots.add(der).map_err(|e| {
                Failure::new(TLSB_ERR_CONFIG, format!("certificate {} of the CA file is not a usable trust anchor: {}", i + 1, e))
            })?;
        }
        Ok(tlsb_client_verifier { mode, roots: Arc::new(roots), anchors, crls: Vec::new(), poisoned: AtomicBool::new(false) })
    }

    /// Adds the CRLs of one TLSClientCRL file, each checked (`now`: seconds since the epoch).
    pub fn add_crls(&mut self, file: &[u8], now: i64) -> Res<usize> {
        let added = crls_from_file(file)?
            .iter()
            .map(|der| Crl::checked(der, &self.anchors, now))
            .collect::<Res<Vec<_>>>()?;
        let n = added.len();
        self.crls.extend(added);
        Ok(n)
    }

    /// The verifier for a server config built on `provider`.
    pub fn build(&self, provider: Arc<CryptoProvider>) -> Res<Arc<dyn ClientCertVerifier>> {
        // Revocation is checked for every certificate of the chain whose issuer has a CRL here;
        // a CRL past its next update refuses the certificate.
        let mut builder = WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider)
            .with_crls(self.crls.iter().map(|c| c.der.clone()))
            .allow_unknown_revocation_status()
            .enforce_revocation_expiration();
        if self.mode == MODE_OPTIONAL {
            builder = builder.allow_unauthenticated();
        }
        let inner = builder
            .build()
            .map_err(|e| Failure::new(TLSB_ERR_CONFIG, format!("cannot verify client certificates: {}", e)))?;
        let crls = self.crls.iter().map(|c| (c.issuer_text.clone(), c.next_update_text.clone(), c.next_update_secs)).collect();
        Ok(Arc::new(ClientAuth { inner, crls }))
    }
}

/// rustls's verifier, with refusals described.
#[derive(Debug)]
struct ClientAuth {
    inner: Arc<dyn ClientCertVerifier>,
    /// Issuer, next update (text, seconds) of each CRL, for the message when one has expired.
    crls: Vec<(String, String, i64)>,
}

/// The subject, serial and issuer of a certificate as text ("unparsable" if it is not X.509).
fn describe(cert: &CertificateDer<'_>) -> (String, String, String) {
    match tlsb_cert_info::from_der(cert.as_ref()) {
        Ok(info) => {
            let text = |f| info.field(f).map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default();
            (text(FIELD_SUBJECT_DN), text(FIELD_SERIAL), text(FIELD_ISSUER_DN))
        }
        Err(_) => ("unparsable".to_string(), String::new(), String::new()),
    }
}

impl ClientAuth {
    /// Records why `cert` was refused and returns the error whose alert rustls sends.
    fn refuse(&self, e: Error, cert: &CertificateDer<'_>, now: UnixTime) -> Error {
        use CertificateError::*;
        let (subject, serial, issuer) = describe(cert);
        let ce = match &e {
            Error::InvalidCertificate(ce) => ce.clone(),
            _ => {
                refused_because(format!("the client certificate [{}] is invalid ({})", subject, e));
                return e;
            }
        };
        let why = match &ce {
            UnknownIssuer => "is not issued by a TLSClientCA certificate".to_string(),
            Expired | ExpiredContext { .. } => "has expired".to_string(),
            NotValidYet | NotValidYetContext { .. } => "is not valid yet".to_string(),
            Revoked => format!("has been revoked (serial {}, issuer {})", serial, issuer),
            ExpiredRevocationList | ExpiredRevocationListContext { .. } => {
                let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
                let (crl_issuer, when, _) =
                    self.crls.iter().find(|c| c.2 < now).or(self.crls.first()).cloned().unwrap_or_default();
                refused_because(format!(
                    "the client certificate is refused: revocation cannot be checked: the CRL of {} expired {} \
                     (refresh the TLSClientCRL file, then restart gracefully)",
                    crl_issuer, when
                ));
                // certificate_unknown, as before rustls checked CRLs itself (rustls would send unknown_ca).
                return Error::InvalidCertificate(Other(OtherError(Arc::new(e))));
            }
            other => format!("is invalid ({})", other),
        };
        refused_because(format!("the client certificate [{}] {}", subject, why));
        Error::InvalidCertificate(ce)
    }

    /// A CertificateVerify that does not verify: the client does not hold the key (access_denied).
    fn bad_signature<T>(r: Result<T, Error>) -> Result<T, Error> {
        r.map_err(|_| {
            refused_because(
                "the client's signature (CertificateVerify) does not verify with its certificate's key: \
                 it does not hold that certificate's private key"
                    .to_string(),
            );
            Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
        })
    }
}

impl ClientCertVerifier for ClientAuth {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.inner.verify_client_cert(end_entity, intermediates, now).map_err(|e| self.refuse(e, end_entity, now))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Self::bad_signature(self.inner.verify_tls12_signature(message, cert, dss))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Self::bad_signature(self.inner.verify_tls13_signature(message, cert, dss))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

// ---- the C ABI: client certificate verification ---------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_client_verifier_new(
    mode: u32,
    ca_pem: *const u8,
    ca_len: usize,
    out: *mut *mut tlsb_client_verifier,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = crate::ffi::out(out, "out")?;
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
        let count = crate::ffi::out(count, "count")?;
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
