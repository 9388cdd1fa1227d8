//! Tests of OCSP stapling in the bridge: the certificate id, the leaf+issuer PEM handed to the
//! OCSP client (mod_md), and the response a client receives in TLS 1.2 and 1.3 handshakes.

use std::sync::Mutex;

use super::*;

/// Trusts ca.crt and records the OCSP response the server stapled.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap() = Some(ocsp.to_vec());
        self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Handshakes with `config` at `version` and returns the stapled response the client saw.
fn stapled(config: &Config, version: &'static SupportedProtocolVersion) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen = Arc::new(Mutex::new(None));
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots_of("ca.crt"))
        .with_no_client_auth();
    cfg.dangerous().set_certificate_verifier(Arc::new(Recorder { inner: webpki_verifier(&provider), seen: seen.clone() }));
    let client = ClientConnection::new(Arc::new(cfg), ServerName::try_from("localhost").unwrap()).unwrap();
    let p = Pair::handshake(client, select(config, b""));
    assert_eq!(tlsb_conn_protocol_version(p.server), u16::from(version.version));
    let got = seen.lock().unwrap().clone();
    got.expect("the client verified a certificate")
}

/// The certificates of a PEM text, as DER.
fn pem_certs(pem: &str) -> Vec<Vec<u8>> {
    rustls_pemfile::certs(&mut pem.as_bytes()).map(|c| c.unwrap().as_ref().to_vec()).collect()
}

fn set_ocsp(k: &Key, der: &[u8]) {
    assert_eq!(tlsb_certified_key_set_ocsp(k.0, der.as_ptr(), der.len()), TLSB_OK);
}

#[test]
fn ocsp_id_is_sha256_of_the_leaf() {
    let k = load("chain.crt", "chain-leaf.key");
    let mut id = [0u8; 32];
    assert_eq!(tlsb_certified_key_ocsp_id(k.0, id.as_mut_ptr(), id.len()), TLSB_OK);
    let leaf = &der_certs("chain.crt")[0];
    assert_eq!(&id[..], ring::digest::digest(&ring::digest::SHA256, leaf).as_ref());
    let mut small = [0u8; 16];
    assert_eq!(tlsb_certified_key_ocsp_id(k.0, small.as_mut_ptr(), small.len()), TLSB_ERR_INVALID);
    assert_eq!(tlsb_certified_key_ocsp_id(null(), id.as_mut_ptr(), id.len()), TLSB_ERR_NULL);
    assert_eq!(tlsb_certified_key_ocsp_id(k.0, null_mut(), 32), TLSB_ERR_NULL);
}

#[test]
fn ocsp_pem_is_leaf_and_issuer() {
    let k = load("chain.crt", "chain-leaf.key");
    let parsed = pem_certs(s(tlsb_certified_key_ocsp_pem(k.0)));
    assert_eq!(parsed, der_certs("chain.crt")[..2].to_vec());
    // Without an issuer in the file: the leaf alone (the OCSP client says what is missing).
    let k = load("rsa.crt", "rsa.key");
    let parsed = pem_certs(s(tlsb_certified_key_ocsp_pem(k.0)));
    assert_eq!(parsed, der_certs("rsa.crt"));
    assert!(tlsb_certified_key_ocsp_pem(null()).is_null());
}

#[test]
fn nothing_is_stapled_without_a_response() {
    let k = load("chain.crt", "chain-leaf.key");
    let c = make_config(&[], &[], &[&k], false, &[]).unwrap();
    assert_eq!(stapled(&c, &rustls::version::TLS13), Vec::<u8>::new());
    assert_eq!(stapled(&c, &rustls::version::TLS12), Vec::<u8>::new());
    assert_eq!(tlsb_certified_key_ocsp_len(k.0), 0);
}

#[test]
fn the_current_response_is_stapled_in_tls12_and_tls13() {
    let k = load("chain.crt", "chain-leaf.key");
    let c = make_config(&[], &[], &[&k], false, &[]).unwrap();
    // The config was built before the response arrived: no rebuild is needed.
    set_ocsp(&k, b"first response");
    assert_eq!(stapled(&c, &rustls::version::TLS13), b"first response".to_vec());
    assert_eq!(stapled(&c, &rustls::version::TLS12), b"first response".to_vec());
    set_ocsp(&k, b"second response");
    assert_eq!(stapled(&c, &rustls::version::TLS13), b"second response".to_vec());
    assert_eq!(tlsb_certified_key_ocsp_len(k.0), b"second response".len());
    // An empty response withdraws the staple.
    set_ocsp(&k, b"");
    assert_eq!(stapled(&c, &rustls::version::TLS12), Vec::<u8>::new());
    assert_eq!(tlsb_certified_key_ocsp_len(k.0), 0);
}

#[test]
fn set_ocsp_is_null_safe() {
    assert_eq!(tlsb_certified_key_set_ocsp(null(), b"x".as_ptr(), 1), TLSB_ERR_NULL);
    let k = load("rsa.crt", "rsa.key");
    assert_eq!(tlsb_certified_key_set_ocsp(k.0, null(), 3), TLSB_ERR_NULL);
    assert_eq!(tlsb_certified_key_ocsp_len(null()), 0);
}

// ACME tls-alpn-01 challenge certificates carry a critical acmeIdentifier extension (RFC 8737)
// that webpki does not know: the key check still works, through the subjectPublicKeyInfo.
#[test]
fn challenge_certificate_with_critical_acme_extension_loads() {
    let k = load("acme-challenge.crt", "acme-challenge.key");
    assert_eq!(tlsb_certified_key_chain_len(k.0), 1);
    let wrong = load_pem(&data("acme-challenge.crt"), &data("ecdsa-p256.key")).err().unwrap();
    assert_eq!(wrong.code, TLSB_ERR_KEY_MISMATCH, "{}", wrong.message);
}
