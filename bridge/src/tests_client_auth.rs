//! Client certificate authentication: the verifier built from TLSClientCA / TLSClientCRL data
//! (tests/data/make_client_auth.sh, made with `openssl ca`), driven by a rustls client in memory.

use super::*;
use crate::client_verify::{MODE_OPTIONAL, MODE_REQUIRED};

struct Verifier(*mut tlsb_client_verifier);
impl Drop for Verifier {
    fn drop(&mut self) {
        tlsb_client_verifier_free(self.0)
    }
}

const NOW_2026: i64 = 1_795_621_019;

fn verifier(mode: u32, crls: &[&str]) -> Verifier {
    let ca = data("client-ca.crt");
    let mut out = null_mut();
    let mut e = new_err();
    assert_eq!(tlsb_client_verifier_new(mode, ca.as_ptr(), ca.len(), &mut out, &mut e), TLSB_OK, "{}", msg(&e));
    let v = Verifier(out);
    for c in crls {
        assert_eq!(add_crls(&v, &data(c)).map_err(|e| e.message), Ok(1));
    }
    v
}

fn add_crls(v: &Verifier, file: &[u8]) -> Result<usize, ErrInfo> {
    let mut n = 99;
    let mut e = new_err();
    let r = tlsb_client_verifier_add_crls(v.0, file.as_ptr(), file.len(), NOW_2026, &mut n, &mut e);
    if r == TLSB_OK {
        Ok(n)
    } else {
        assert_eq!(n, 0);
        Err(ErrInfo::from(r, &e))
    }
}

fn config_with(v: &Verifier, k: &Key) -> Config {
    let kp = k.0 as *const tlsb_certified_key;
    let params = tlsb_server_config_params {
        versions: null(), versions_len: 0, suites: null(), suites_len: 0, keys: &kp, keys_len: 1,
        honor_client_order: 0, alpn: null(), alpn_lens: null(), alpn_len: 0,
        client_verifier: v.0,
        session_store: null(), no_session_cache: 0, ticket_keys: null(),
        session_scope: null(), session_scope_len: 0,
    };
    let mut out = null_mut();
    let mut e = new_err();
    assert_eq!(tlsb_server_config_new(&params, &mut out, &mut e), TLSB_OK, "{}", msg(&e));
    Config(out)
}

/// A rustls client presenting `cert` with `key` (None: no certificate).
fn client_with(
    version: &'static SupportedProtocolVersion,
    suites: &[SupportedCipherSuite],
    cred: Option<(&str, &str)>,
) -> ClientConnection {
    let mut roots = RootCertStore::empty();
    for c in der_certs("ca.crt") {
        roots.add(&Certificate(c)).unwrap();
    }
    let suites = if suites.is_empty() { rustls::DEFAULT_CIPHER_SUITES } else { suites };
    let builder = ClientConfig::builder()
        .with_cipher_suites(suites)
        .with_safe_default_kx_groups()
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match cred {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = der_certs(cert).into_iter().map(Certificate).collect();
            let key = rustls_pemfile::pkcs8_private_keys(&mut &data(key)[..]).unwrap().remove(0);
            builder.with_single_cert(chain, rustls::PrivateKey(key)).unwrap()
        }
    };
    ClientConnection::new(Arc::new(cfg), "localhost".try_into().unwrap()).unwrap()
}

fn run(mode: u32, crls: &[&str], version: &'static SupportedProtocolVersion, cred: Option<(&str, &str)>) -> Pair {
    run_client(mode, crls, client_with(version, &[], cred))
}

fn run_with_suite(mode: u32, crls: &[&str], suite: SupportedCipherSuite, cred: Option<(&str, &str)>) -> Pair {
    run_client(mode, crls, client_with(V13, &[suite], cred))
}

fn run_client(mode: u32, crls: &[&str], client: ClientConnection) -> Pair {
    let k = load("ecdsa-p256.crt", "ecdsa-p256.key");
    let v = verifier(mode, crls);
    let cfg = config_with(&v, &k);
    drop(v); // the config keeps what it needs
    let mut p = Pair::new(client, select(&cfg, b""));
    p.pump();
    // Keep the config alive as long as the pair's hook may use it.
    std::mem::forget(cfg);
    p
}

static V12: &SupportedProtocolVersion = &rustls::version::TLS12;
static V13: &SupportedProtocolVersion = &rustls::version::TLS13;
const ALICE: (&str, &str) = ("client-alice.crt", "client-alice.key");
const BOB: (&str, &str) = ("client-bob.crt", "client-bob.key");
const MALLORY: (&str, &str) = ("client-mallory.crt", "client-mallory.key");

fn peer_count(p: &Pair) -> usize {
    tlsb_conn_peer_cert_count(p.server)
}

#[test]
fn good_certificate_is_accepted_and_visible() {
    for v in [V12, V13] {
        let mut p = run(MODE_REQUIRED, &["client-crl.pem"], v, Some(ALICE));
        assert!(p.server_err.is_none(), "{:?}", p.server_err);
        assert_eq!(peer_count(&p), 1);
        exchange(&mut p);
    }
}

#[test]
fn logged_secrets_are_dropped_when_the_handshake_ends() {
    for (cred, mode) in [(Some(ALICE), MODE_REQUIRED), (Some(BOB), MODE_REQUIRED), (None, MODE_OPTIONAL), (None, MODE_REQUIRED)] {
        let p = run(mode, &["client-crl.pem"], V13, cred);
        let random = unsafe { &*p.server }.client_random().expect("client random").to_vec();
        assert_eq!(random.len(), 32);
        assert!(!crate::tls13_alert::holds(&random));
    }
    // A connection freed mid-handshake drops them too.
    let k = load("ecdsa-p256.crt", "ecdsa-p256.key");
    let v = verifier(MODE_REQUIRED, &[]);
    let cfg = config_with(&v, &k);
    let mut p = Pair::new(client_with(V13, &[], Some(ALICE)), select(&cfg, b""));
    let hello = p.client_output();
    p.feed_server(&hello);
    let random = unsafe { &*p.server }.client_random().expect("client random").to_vec();
    assert!(crate::tls13_alert::holds(&random));
    drop(p);
    assert!(!crate::tls13_alert::holds(&random));
}

#[test]
fn secrets_of_unregistered_handshakes_are_not_kept() {
    use rustls::KeyLog;
    let random = [0xA5u8; 32];
    crate::tls13_alert::ServerSecrets.log("SERVER_TRAFFIC_SECRET_0", &random, &[1u8; 32]);
    assert!(!crate::tls13_alert::holds(&random));
    // A ClientHello whose first record is too short to hold the random: none is read.
    let hello = [0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    assert!(crate::tls13_alert::client_random(&[&hello[..], &[0u8; 40][..]].concat()).is_none());
}

#[test]
fn optional_without_certificate_proceeds_required_refuses() {
    for v in [V12, V13] {
        let p = run(MODE_OPTIONAL, &[], v, None);
        assert!(p.server_err.is_none(), "{:?}", p.server_err);
        assert_eq!(peer_count(&p), 0);
        let p = run(MODE_REQUIRED, &[], v, None);
        let e = p.server_err.clone().expect("refused");
        assert_eq!(e.code, TLSB_ERR_TLS);
        assert!(e.message.contains("sent no certificate"), "{}", e.message);
        assert_eq!(e.alert_sent, 116);
    }
}

#[test]
fn revoked_certificate_is_refused_with_certificate_revoked() {
    let p = run(MODE_REQUIRED, &["client-crl.der"], V12, Some(BOB));
    let e = p.server_err.clone().expect("refused");
    assert!(e.message.contains("[CN=bob] has been revoked (serial 1001, issuer CN=bridge client CA)"), "{}", e.message);
    assert_eq!(e.alert_sent, 44);
    // The client got that alert (the bridge rewrote rustls's handshake_failure).
    assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRevoked)));
    // TLS 1.3: the encrypted alert is re-sealed with the right description.
    for suite in [
        &rustls::cipher_suite::TLS13_AES_128_GCM_SHA256,
        &rustls::cipher_suite::TLS13_AES_256_GCM_SHA384,
        &rustls::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ] {
        let p = run_with_suite(MODE_REQUIRED, &["client-crl.pem"], *suite, Some(BOB));
        let e = p.server_err.clone().expect("refused");
        assert!(e.message.contains("has been revoked"), "{}", e.message);
        assert_eq!(e.alert_sent, 44);
        assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRevoked)));
    }
    // Without the CRL, bob is fine.
    assert!(run(MODE_REQUIRED, &[], V13, Some(BOB)).server_err.is_none());
}

#[test]
fn certificate_of_another_ca_is_refused_with_unknown_ca() {
    let p = run(MODE_OPTIONAL, &[], V12, Some(MALLORY));
    let e = p.server_err.clone().expect("refused");
    assert!(e.message.contains("[CN=mallory] is not issued by a TLSClientCA certificate"), "{}", e.message);
    assert_eq!(e.alert_sent, 48);
    assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA)));
}

#[test]
fn wrong_private_key_is_refused_with_access_denied() {
    for v in [V12, V13] {
        let p = run(MODE_REQUIRED, &[], v, Some(("client-alice.crt", "client-bob.key")));
        let e = p.server_err.clone().expect("refused");
        assert!(e.message.contains("does not hold that certificate's private key"), "{}", e.message);
        assert_eq!(e.alert_sent, 49);
        assert_eq!(peer_count(&p), 0);
    }
}

#[test]
fn crls_are_checked_when_loaded() {
    let v = verifier(MODE_REQUIRED, &[]);
    let e = add_crls(&v, &data("client-crl-other.pem")).unwrap_err();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    assert!(e.message.contains("is not a certificate of TLSClientCA"), "{}", e.message);
    let e = add_crls(&v, &data("client-crl-expired.pem")).unwrap_err();
    assert!(e.message.contains("is out of date"), "{}", e.message);
    let e = add_crls(&v, b"no CRL here").unwrap_err();
    assert_eq!(e.code, TLSB_ERR_PEM);
    // A CRL whose signature was tampered with.
    let mut der = data("client-crl.der");
    let last = der.len() - 3;
    der[last] ^= 0x01;
    let e = add_crls(&v, &der).unwrap_err();
    assert!(e.message.contains("signature does not verify") || e.message.contains("malformed CRL"), "{}", e.message);
    // Truncated DER never panics.
    let der = data("client-crl.der");
    for n in 0..der.len() {
        assert!(add_crls(&v, &der[..n]).is_err());
    }
    assert_eq!(add_crls(&v, &data("client-crl.pem")).map_err(|e| e.message), Ok(1));
}

#[test]
fn crl_past_next_update_while_running_refuses_certificates_of_its_issuer() {
    let v = verifier(MODE_REQUIRED, &["client-crl-2030.pem"]);
    let verifier = unsafe { &*v.0 }.build();
    let alice = Certificate(der_certs("client-alice.crt").remove(0));
    let at = |secs: i64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    assert!(verifier.verify_client_cert(&alice, &[], SystemTime::now()).is_ok());
    // 2031: the certificate is still valid, the CRL is past its next update.
    let err = verifier.verify_client_cert(&alice, &[], at(1_924_992_000 + 86400 * 400)).unwrap_err();
    match err {
        rustls::Error::InvalidCertificateData(why) => {
            assert!(why.contains("revocation cannot be checked: the CRL of CN=bridge client CA expired"), "{}", why);
            assert_eq!(crate::client_verify::alert_of(&why), Some(46));
        }
        other => panic!("{:?}", other),
    }
}

#[test]
fn client_verifier_functions_are_null_safe() {
    let mut out = null_mut();
    let mut e = new_err();
    assert_eq!(tlsb_client_verifier_new(MODE_REQUIRED, null(), 0, &mut out, &mut e), TLSB_ERR_NULL);
    assert!(out.is_null());
    let ca = data("client-ca.crt");
    assert_eq!(tlsb_client_verifier_new(MODE_REQUIRED, ca.as_ptr(), ca.len(), null_mut(), &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_client_verifier_new(7, ca.as_ptr(), ca.len(), &mut out, &mut e), TLSB_ERR_INVALID);
    let key = data("client-alice.key");
    assert_eq!(tlsb_client_verifier_new(MODE_REQUIRED, key.as_ptr(), key.len(), &mut out, &mut e), TLSB_ERR_PEM);
    let mut n = 0;
    assert_eq!(tlsb_client_verifier_add_crls(null_mut(), ca.as_ptr(), ca.len(), 0, &mut n, &mut e), TLSB_ERR_NULL);
    let v = verifier(MODE_REQUIRED, &[]);
    assert_eq!(tlsb_client_verifier_add_crls(v.0, null(), 0, 0, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_client_verifier_add_crls(v.0, ca.as_ptr(), ca.len(), 0, null_mut(), &mut e), TLSB_ERR_NULL);
    tlsb_client_verifier_free(null_mut());
}
