//! Client certificate authentication: the verifier built from TLSClientCA / TLSClientCRL data
//! (tests/data/make_client_auth.sh and make_client_dated.sh, made with `openssl ca`), driven by a
//! rustls client in memory.

use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;

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
    verifier_of("client-ca.crt", mode, crls)
}

fn verifier_of(ca_file: &str, mode: u32, crls: &[&str]) -> Verifier {
    let ca = data(ca_file);
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
        versions: null(), versions_len: 0, suites: null(), suites_len: 0, groups: null(), groups_len: 0,
        keys: &kp, keys_len: 1,
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

/// Offers one certificate, whether or not its key belongs to it (rustls's own
/// `with_client_auth_cert` refuses a key that does not).
#[derive(Debug)]
struct OneCert(Arc<CertifiedKey>);

impl ResolvesClientCert for OneCert {
    fn resolve(&self, _root_hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// A rustls client presenting `cert` with `key` (None: no certificate).
fn client_with(
    version: &'static SupportedProtocolVersion,
    suites: &[SupportedCipherSuite],
    cred: Option<(&str, &str)>,
) -> ClientConnection {
    let suites = if suites.is_empty() { rustls::crypto::ring::DEFAULT_CIPHER_SUITES } else { suites };
    let provider = provider_with(suites);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots_of("ca.crt"));
    let cfg = match cred {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let signer = provider.key_provider.load_private_key(private_key(key)).unwrap();
            builder.with_client_cert_resolver(Arc::new(OneCert(Arc::new(CertifiedKey::new(cert_ders(cert), signer)))))
        }
    };
    ClientConnection::new(Arc::new(cfg), ServerName::try_from("localhost").unwrap()).unwrap()
}

fn run(mode: u32, crls: &[&str], version: &'static SupportedProtocolVersion, cred: Option<(&str, &str)>) -> Pair {
    run_client(verifier(mode, crls), client_with(version, &[], cred))
}

fn run_with_suite(mode: u32, crls: &[&str], suite: SupportedCipherSuite, cred: Option<(&str, &str)>) -> Pair {
    run_client(verifier(mode, crls), client_with(V13, &[suite], cred))
}

fn run_client(v: Verifier, client: ClientConnection) -> Pair {
    let k = load("ecdsa-p256.crt", "ecdsa-p256.key");
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
fn tls13_suites() -> [SupportedCipherSuite; 3] {
    [cipher_suite::TLS13_AES_128_GCM_SHA256, cipher_suite::TLS13_AES_256_GCM_SHA384, cipher_suite::TLS13_CHACHA20_POLY1305_SHA256]
}

fn peer_count(p: &Pair) -> usize {
    tlsb_conn_peer_cert_count(p.server)
}

/// The server refused the client with `alert` (error.alert_sent) and the client received it.
fn assert_refused_with(p: &Pair, alert: AlertDescription) -> ErrInfo {
    let e = p.server_err.clone().expect("refused");
    assert_eq!(e.code, TLSB_ERR_TLS);
    assert_eq!(e.alert_sent, u16::from(u8::from(alert)), "{:?}: {}", alert, e.message);
    assert_eq!(e.alert_received, TLSB_NO_ALERT);
    assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(alert)), "what the client received");
    assert_eq!(peer_count(p), 0, "a refused certificate is not the peer's");
    e
}

#[test]
fn good_certificate_is_accepted_and_visible() {
    for v in [V12, V13] {
        let mut p = run(MODE_REQUIRED, &["client-crl.pem"], v, Some(ALICE));
        assert!(p.server_err.is_none(), "{:?}", p.server_err);
        assert_eq!(peer_count(&p), 1);
        let (mut d, mut l) = (null(), 0);
        assert_eq!(tlsb_conn_peer_cert(p.server, 0, &mut d, &mut l), TLSB_OK);
        assert_eq!(unsafe { span(d, l) }, &der_certs("client-alice.crt")[0][..]);
        exchange(&mut p);
    }
}

#[test]
fn optional_without_certificate_proceeds_required_refuses() {
    for v in [V12, V13] {
        let mut p = run(MODE_OPTIONAL, &[], v, None);
        assert!(p.server_err.is_none(), "{:?}", p.server_err);
        assert_eq!(peer_count(&p), 0);
        exchange(&mut p);
        let p = run(MODE_REQUIRED, &[], v, None);
        let e = assert_refused_with(&p, AlertDescription::CertificateRequired);
        assert!(e.message.contains("sent no certificate"), "{}", e.message);
    }
}

#[test]
fn revoked_certificate_is_refused_with_certificate_revoked() {
    let p = run(MODE_REQUIRED, &["client-crl.der"], V12, Some(BOB));
    let e = assert_refused_with(&p, AlertDescription::CertificateRevoked);
    assert!(e.message.contains("[CN=bob] has been revoked (serial 1001, issuer CN=bridge client CA)"), "{}", e.message);
    // TLS 1.3: rustls sends the alert encrypted, with each suite's keys.
    for suite in tls13_suites() {
        let p = run_with_suite(MODE_REQUIRED, &["client-crl.pem"], suite, Some(BOB));
        let e = assert_refused_with(&p, AlertDescription::CertificateRevoked);
        assert!(e.message.contains("has been revoked"), "{}", e.message);
    }
    // Without the CRL, bob is fine; alice is fine with it.
    assert!(run(MODE_REQUIRED, &[], V13, Some(BOB)).server_err.is_none());
    assert!(run(MODE_REQUIRED, &["client-crl.der"], V13, Some(ALICE)).server_err.is_none());
}

#[test]
fn certificate_of_another_ca_is_refused_with_unknown_ca() {
    for v in [V12, V13] {
        let p = run(MODE_OPTIONAL, &[], v, Some(MALLORY));
        let e = assert_refused_with(&p, AlertDescription::UnknownCA);
        assert!(e.message.contains("[CN=mallory] is not issued by a TLSClientCA certificate"), "{}", e.message);
    }
}

#[test]
fn certificate_outside_its_validity_is_refused_with_certificate_expired() {
    // tests/data/make_client_dated.sh: valid only in January 2020, and from 2125.
    for v in [V12, V13] {
        for (cred, why) in [
            (("client-expired.crt", "client-expired.key"), "[CN=expired] has expired"),
            (("client-future.crt", "client-future.key"), "[CN=future] is not valid yet"),
        ] {
            let p = run_client(verifier_of("client-dated-ca.crt", MODE_OPTIONAL, &[]), client_with(v, &[], Some(cred)));
            let e = assert_refused_with(&p, AlertDescription::CertificateExpired);
            assert!(e.message.contains(why), "{}", e.message);
        }
    }
}

#[test]
fn wrong_private_key_is_refused_with_access_denied() {
    for v in [V12, V13] {
        let p = run(MODE_REQUIRED, &[], v, Some(("client-alice.crt", "client-bob.key")));
        let e = assert_refused_with(&p, AlertDescription::AccessDenied);
        assert!(e.message.contains("does not hold that certificate's private key"), "{}", e.message);
    }
}

#[test]
fn crls_are_checked_when_loaded() {
    let v = verifier(MODE_REQUIRED, &[]);
    let e = add_crls(&v, &data("client-crl-other.pem")).unwrap_err();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    assert!(e.message.contains("is not a certificate of TLSClientCA"), "{}", e.message);
    let e = add_crls(&v, &data("client-crl-expired.pem")).unwrap_err();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    assert!(e.message.contains("is out of date"), "{}", e.message);
    let e = add_crls(&v, b"no CRL here").unwrap_err();
    assert_eq!(e.code, TLSB_ERR_PEM);
    // A CRL whose signature was tampered with.
    let mut der = data("client-crl.der");
    let last = der.len() - 3;
    der[last] ^= 0x01;
    let e = add_crls(&v, &der).unwrap_err();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    assert!(e.message.contains("signature does not verify") || e.message.contains("malformed CRL"), "{}", e.message);
    // Truncated DER never panics.
    let der = data("client-crl.der");
    for n in 0..der.len() {
        let r = add_crls(&v, &der[..n]);
        assert!(r.is_err());
        assert_ne!(r.unwrap_err().code, TLSB_ERR_PANIC);
    }
    // Nothing of the failed files was added: bob still passes.
    let k = load("ecdsa-p256.crt", "ecdsa-p256.key");
    let cfg = config_with(&v, &k);
    let mut p = Pair::new(client_with(V13, &[], Some(BOB)), select(&cfg, b""));
    p.pump();
    assert!(p.server_err.is_none(), "{:?}", p.server_err);
    assert_eq!(add_crls(&v, &data("client-crl.pem")).map_err(|e| e.message), Ok(1));
}

const NEXT_UPDATE_2030: u64 = 1_893_456_000; // client-crl-2030.pem: 2030-01-01T00:00:00Z

/// rustls checks the CRLs' next update while the server runs: past it, the certificates of that
/// issuer are refused with certificate_unknown (rustls itself would send unknown_ca).
#[test]
fn crl_past_next_update_while_running_refuses_certificates_of_its_issuer() {
    let v = verifier(MODE_REQUIRED, &["client-crl-2030.pem"]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = unsafe { &*v.0 }.build(provider.clone()).unwrap();
    let alice = cert_ders("client-alice.crt").remove(0);
    let at = |secs: u64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    let (r, seen) = crate::observe::observe(|| verifier.verify_client_cert(&alice, &[], UnixTime::now()));
    assert!(r.is_ok(), "{:?}", r.err());
    assert!(seen.refusal.is_none());
    assert!(verifier.verify_client_cert(&alice, &[], at(NEXT_UPDATE_2030 - 1)).is_ok());
    // 2031: the certificate is still valid, the CRL is past its next update.
    let (r, seen) = crate::observe::observe(|| verifier.verify_client_cert(&alice, &[], at(NEXT_UPDATE_2030 + 86400 * 365)));
    match r {
        Err(rustls::Error::InvalidCertificate(ce)) => {
            assert_eq!(AlertDescription::from(ce), AlertDescription::CertificateUnknown);
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    let why = seen.refusal.expect("the refusal is described");
    assert!(why.contains("revocation cannot be checked: the CRL of CN=bridge client CA expired"), "{}", why);
    assert!(why.contains("2030"), "{}", why);

    // What a client gets from a server at that time (rustls's ServerConfig with the bridge's
    // verifier and a clock in 2031).
    #[derive(Debug)]
    struct In2031;
    impl rustls::time_provider::TimeProvider for In2031 {
        fn current_time(&self) -> Option<UnixTime> {
            Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(NEXT_UPDATE_2030 + 86400 * 365)))
        }
    }
    for version in [V12, V13] {
        let mut server_cfg = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_client_cert_verifier(verifier.clone())
            .with_single_cert(cert_ders("ecdsa-p256.crt"), private_key("ecdsa-p256.key"))
            .unwrap();
        server_cfg.time_provider = Arc::new(In2031);
        let mut server = rustls::ServerConnection::new(Arc::new(server_cfg)).unwrap();
        let mut client = client_with(version, &[], Some(ALICE));
        let (mut server_err, mut client_err) = (None, None);
        for _ in 0..20 {
            let mut buf = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut buf).unwrap();
            }
            if !buf.is_empty() && server_err.is_none() {
                server.read_tls(&mut &buf[..]).unwrap();
                if let Err(e) = server.process_new_packets() {
                    server_err = Some(e);
                }
            }
            let mut back = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut back).unwrap();
            }
            if !back.is_empty() && client_err.is_none() {
                client.read_tls(&mut &back[..]).unwrap();
                if let Err(e) = client.process_new_packets() {
                    client_err = Some(e);
                }
            }
            if buf.is_empty() && back.is_empty() {
                break;
            }
        }
        assert!(matches!(server_err, Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(_)))), "{:?}", server_err);
        assert_eq!(client_err, Some(rustls::Error::AlertReceived(AlertDescription::CertificateUnknown)), "{:?}", version.version);
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

/// A poisoned verifier in a config's params is refused.
#[test]
fn poisoned_verifier_in_params_is_refused() {
    let v = verifier(MODE_REQUIRED, &[]);
    poison(v.0);
    let k = load("ecdsa-p256.crt", "ecdsa-p256.key");
    let kp = k.0 as *const tlsb_certified_key;
    let params = tlsb_server_config_params {
        versions: null(), versions_len: 0, suites: null(), suites_len: 0, groups: null(), groups_len: 0,
        keys: &kp, keys_len: 1, honor_client_order: 0, alpn: null(), alpn_lens: null(), alpn_len: 0,
        client_verifier: v.0, session_store: null(), no_session_cache: 0, ticket_keys: null(),
        session_scope: null(), session_scope_len: 0,
    };
    let (mut out, mut e) = (null_mut(), new_err());
    assert_eq!(tlsb_server_config_new(&params, &mut out, &mut e), TLSB_ERR_PANIC);
    assert!(msg(&e).contains("poisoned"), "{}", msg(&e));
    assert!(out.is_null());
}
