//! Tests of the bridge parts behind the SSL_* variables: certificate fields in mod_ssl's formats,
//! resumption, the certificate actually sent, cipher key sizes. Expected texts were taken from
//! `openssl x509 -noout -subject -issuer -serial -dates -nameopt RFC2253,-esc_msb` (what mod_ssl
//! prints) for the stored test certificates, and from Debian's mod_ssl with +StdEnvVars.

use super::*;

struct Info(*mut tlsb_cert_info);
impl Drop for Info {
    fn drop(&mut self) {
        tlsb_cert_info_free(self.0)
    }
}

fn info_of(der: &[u8]) -> Info {
    let mut out = null_mut();
    let mut e = new_err();
    assert_eq!(tlsb_cert_info_new(der.as_ptr(), der.len(), &mut out, &mut e), TLSB_OK, "{}", msg(&e));
    assert!(!out.is_null());
    Info(out)
}

fn info(file: &str) -> Info {
    info_of(&der_certs(file)[0])
}

fn text(p: *const u8, l: usize) -> String {
    String::from_utf8(unsafe { span(p, l) }.to_vec()).unwrap()
}

impl Info {
    fn field(&self, f: u32) -> String {
        let (mut p, mut l) = (null(), 0);
        assert_eq!(tlsb_cert_info_field(self.0, f, &mut p, &mut l), TLSB_OK);
        text(p, l)
    }
    fn dn(&self, name: u32) -> Vec<(String, String)> {
        (0..tlsb_cert_info_dn_count(self.0, name))
            .map(|i| {
                let (mut tag, mut p, mut l) = (null(), null(), 0);
                assert_eq!(tlsb_cert_info_dn_entry(self.0, name, i, &mut tag, &mut p, &mut l), TLSB_OK);
                (s(tag).to_string(), text(p, l))
            })
            .collect()
    }
    fn san(&self, kind: u32) -> Vec<String> {
        (0..tlsb_cert_info_san_count(self.0, kind))
            .map(|i| {
                let (mut p, mut l) = (null(), 0);
                assert_eq!(tlsb_cert_info_san(self.0, kind, i, &mut p, &mut l), TLSB_OK);
                text(p, l)
            })
            .collect()
    }
}

const VERSION: u32 = 0;
const SERIAL: u32 = 1;
const SUBJECT_DN: u32 = 2;
const ISSUER_DN: u32 = 3;
const NOT_BEFORE: u32 = 4;
const NOT_AFTER: u32 = 5;
const SIG_ALG: u32 = 6;
const KEY_ALG: u32 = 7;
const PEM: u32 = 8;

#[test]
fn simple_certificate_fields() {
    let i = info("rsa.crt");
    assert_eq!(i.field(VERSION), "3");
    assert_eq!(i.field(SERIAL), "596F390C5864A7BAF999A4B2D9F378FDEA5FE046");
    assert_eq!(i.field(SUBJECT_DN), "CN=localhost");
    assert_eq!(i.field(ISSUER_DN), "CN=mod_tls bridge test CA");
    assert_eq!(i.field(NOT_BEFORE), "Nov 25 15:43:22 2026 GMT");
    assert_eq!(i.field(NOT_AFTER), "Nov  1 15:43:22 2126 GMT");
    assert_eq!(i.field(SIG_ALG), "ecdsa-with-SHA256");
    assert_eq!(i.field(KEY_ALG), "rsaEncryption");
    assert_eq!(i.dn(0), vec![("CN".to_string(), "localhost".to_string())]);
    assert_eq!(i.dn(1), vec![("CN".to_string(), "mod_tls bridge test CA".to_string())]);
    assert_eq!(i.san(2), vec!["localhost", "example.test"]);
    assert!(i.san(1).is_empty());
    // The PEM is byte for byte what OpenSSL writes (the stored file was written by openssl).
    assert_eq!(i.field(PEM).as_bytes(), &data("rsa.crt")[..]);
}

#[test]
fn key_and_signature_algorithm_names() {
    assert_eq!(info("ecdsa-p256.crt").field(KEY_ALG), "id-ecPublicKey");
    assert_eq!(info("ecdsa-p384.crt").field(KEY_ALG), "id-ecPublicKey");
    assert_eq!(info("ed25519.crt").field(KEY_ALG), "ED25519");
    assert_eq!(info("chain-leaf.crt").field(ISSUER_DN), "CN=mod_tls bridge test intermediate");
    assert_eq!(info("chain-leaf.crt").field(SERIAL), "20648CB856C24E3F16AE1283BF51273928F5591E");
    // Not after before not before: still parsed.
    assert_eq!(info("expired.crt").field(NOT_AFTER), "Nov 24 15:43:22 2026 GMT");
}

#[test]
fn rich_dn_prints_as_mod_ssl() {
    let i = info("dn-rich.crt");
    let dn = "description=semi\\;colon\\<x\\>,SN=Smith,GN=Ann,title=\\#1 Boss,emailAddress=admin@example.test,\
              CN=www.example.test+UID=u42,OU=Ops,OU=Web,O=Example\\, Inc.,L=Karlsruhe,ST=Baden-Württemberg,C=DE";
    assert_eq!(i.field(SUBJECT_DN), dn);
    assert_eq!(i.field(ISSUER_DN), dn);
    assert_eq!(i.field(SERIAL), "F1E2D3C4B5A69788");
    assert_eq!(i.field(NOT_BEFORE), "Nov 25 16:24:04 2026 GMT");
    assert_eq!(i.field(NOT_AFTER), "Nov  1 16:24:04 2126 GMT");
    assert_eq!(i.field(KEY_ALG), "id-ecPublicKey");
    let pairs: Vec<(String, String)> = [
        ("C", "DE"),
        ("ST", "Baden-Württemberg"),
        ("L", "Karlsruhe"),
        ("O", "Example, Inc."),
        ("OU", "Web"),
        ("OU", "Ops"),
        ("UID", "u42"),
        ("CN", "www.example.test"),
        ("Email", "admin@example.test"),
        ("T", "#1 Boss"),
        ("G", "Ann"),
        ("S", "Smith"),
        ("D", "semi;colon<x>"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(i.dn(0), pairs);
    assert_eq!(i.san(2), vec!["www.example.test", "example.test"]);
    assert_eq!(i.san(1), vec!["admin@example.test", "ops@example.test"]);
}

#[test]
fn days_remaining_counts_like_mod_ssl() {
    let i = info("rsa.crt");
    // notAfter Nov 1 15:43:22 2126 GMT = 4949221402.
    let then = 4_949_221_402i64;
    assert_eq!(tlsb_cert_info_days_remaining(i.0, then - 86_400), 1);
    assert_eq!(tlsb_cert_info_days_remaining(i.0, then - 86_399), 0);
    assert_eq!(tlsb_cert_info_days_remaining(i.0, then - 10 * 86_400 - 5), 10);
    assert_eq!(tlsb_cert_info_days_remaining(i.0, then + 1_000_000), 0);
    assert_eq!(tlsb_cert_info_days_remaining(null(), 0), 0);
}

#[test]
fn cert_info_refuses_garbage_and_nulls() {
    let mut out = null_mut();
    let mut e = new_err();
    assert_eq!(tlsb_cert_info_new(null(), 5, &mut out, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_cert_info_new(b"x".as_ptr(), 1, null_mut(), &mut e), TLSB_ERR_NULL);
    for bad in [&b""[..], b"\x30\x03\x02\x01", b"\x30\x00", b"\x04\x02ab", b"-----BEGIN CERTIFICATE-----"] {
        let mut e = new_err();
        assert_eq!(tlsb_cert_info_new(bad.as_ptr(), bad.len(), &mut out, &mut e), TLSB_ERR_INVALID);
        assert!(out.is_null());
        assert!(msg(&e).contains("malformed certificate"), "{}", msg(&e));
    }
    // Every truncation of a real certificate fails cleanly, never panics.
    let der = der_certs("dn-rich.crt")[0].clone();
    for n in 0..der.len() {
        let r = tlsb_cert_info_new(der.as_ptr(), n, &mut out, null_mut());
        assert_ne!(r, TLSB_OK, "truncated at {}", n);
        assert_ne!(r, TLSB_ERR_PANIC);
    }
    // Flipped bytes: any result but a panic.
    for pos in 0..der.len() {
        let mut d = der.clone();
        d[pos] ^= 0xFF;
        let r = tlsb_cert_info_new(d.as_ptr(), d.len(), &mut out, null_mut());
        assert_ne!(r, TLSB_ERR_PANIC);
        tlsb_cert_info_free(out);
        out = null_mut();
    }
    // Accessors are null-safe.
    let (mut p, mut l) = (null(), 0);
    assert_eq!(tlsb_cert_info_field(null(), 0, &mut p, &mut l), TLSB_ERR_NULL);
    let i = info("rsa.crt");
    assert_eq!(tlsb_cert_info_field(i.0, 9, &mut p, &mut l), TLSB_ERR_INVALID);
    assert_eq!(tlsb_cert_info_field(i.0, 0, null_mut(), &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_cert_info_dn_count(null(), 0), 0);
    assert_eq!(tlsb_cert_info_dn_count(i.0, 7), 0);
    assert_eq!(tlsb_cert_info_san_count(i.0, 7), 0);
    let mut tag = null();
    assert_eq!(tlsb_cert_info_dn_entry(i.0, 0, 1, &mut tag, &mut p, &mut l), TLSB_ERR_INVALID);
    assert_eq!(tlsb_cert_info_san(i.0, 2, 2, &mut p, &mut l), TLSB_ERR_INVALID);
    tlsb_cert_info_free(null_mut());
}

#[test]
fn cipher_key_sizes() {
    assert_eq!(tlsb_cipher_suite_key_bits(0x1301), 128);
    assert_eq!(tlsb_cipher_suite_key_bits(0x1302), 256);
    assert_eq!(tlsb_cipher_suite_key_bits(0x1303), 256);
    assert_eq!(tlsb_cipher_suite_key_bits(0xC02B), 128);
    assert_eq!(tlsb_cipher_suite_key_bits(0xC030), 256);
    assert_eq!(tlsb_cipher_suite_key_bits(0xCCA8), 256);
    assert_eq!(tlsb_cipher_suite_key_bits(0x0000), 0);
}

// ---- resumption and the certificate sent ---------------------------------------------------

/// A client config whose session cache survives between connections.
pub(super) fn resuming_client_config(version: &'static SupportedProtocolVersion) -> Arc<ClientConfig> {
    let cfg = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots_of("ca.crt"))
        .with_no_client_auth();
    Arc::new(cfg)
}

pub(super) fn connect(cfg: &Arc<ClientConfig>, server: &Config) -> Pair {
    let c = ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut p = Pair::handshake(c, select(server, b""));
    exchange(&mut p); // TLS 1.3 tickets arrive after the handshake
    p
}

fn server_chain(p: &Pair) -> Vec<Vec<u8>> {
    (0..tlsb_conn_server_cert_count(p.server))
        .map(|i| {
            let (mut d, mut l) = (null(), 0);
            assert_eq!(tlsb_conn_server_cert(p.server, i, &mut d, &mut l), TLSB_OK);
            unsafe { span(d, l) }.to_vec()
        })
        .collect()
}

#[test]
fn second_handshake_resumes_and_says_so() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let (_k, server) = rsa_config();
        let client_cfg = resuming_client_config(version);
        let first = connect(&client_cfg, &server);
        assert_eq!(tlsb_conn_is_resumed(first.server), 0, "{:?}", version.version);
        let second = connect(&client_cfg, &server);
        assert_eq!(tlsb_conn_is_resumed(second.server), 1, "{:?}", version.version);
        // The resumed connection still knows the certificate of its host.
        assert_eq!(server_chain(&second), der_certs("rsa.crt"));
        // A fresh client does not resume.
        let other = connect(&resuming_client_config(version), &server);
        assert_eq!(tlsb_conn_is_resumed(other.server), 0);
    }
    assert_eq!(tlsb_conn_is_resumed(null()), 0);
}

#[test]
fn the_certificate_sent_is_reported() {
    let rsa = load("rsa.crt", "rsa.key");
    let chain = load("chain.crt", "chain-leaf.key");
    let cfg = make_config(&[], &[], &[&rsa, &chain], false, &[]).unwrap();
    // Before the ClientHello: nothing.
    let mut conn = null_mut();
    assert_eq!(tlsb_conn_new_server(&mut conn), TLSB_OK);
    assert_eq!(tlsb_conn_server_cert_count(conn), 0);
    let (mut d, mut l) = (null(), 0);
    assert_eq!(tlsb_conn_server_cert(conn, 0, &mut d, &mut l), TLSB_ERR_INVALID);
    tlsb_conn_free(conn);
    assert_eq!(tlsb_conn_server_cert_count(null()), 0);

    let ecdsa_only = Some(vec![SignatureScheme::ECDSA_NISTP256_SHA256]);
    let p = Pair::handshake(client(ClientOpts { schemes: ecdsa_only, ..Default::default() }), select(&cfg, b""));
    assert_eq!(server_chain(&p), der_certs("chain.crt"));
    assert_eq!(server_chain(&p)[0], p.client_sees_end_entity());
    let p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    assert_eq!(server_chain(&p), der_certs("rsa.crt"));
}

#[test]
fn dn_corner_cases_print_as_openssl() {
    // From `openssl x509 -noout -subject -nameopt RFC2253,-esc_msb -in dn-edge.crt`.
    let i = info("dn-edge.crt");
    assert_eq!(
        i.field(SUBJECT_DN),
        "CN=\\ #lead\\,\\+\\\"\\\\\\<\\>\\;=trail\\ +SN=multi,1.2.3.4.5=#0C07756E6B6E6F776E,\
         OU=Bmp Ü€,O=ctl\\01\\1F\\7Fend,L=CafÃ©,C=DE"
    );
    assert_eq!(i.field(SERIAL), "01");
    assert_eq!(i.field(NOT_AFTER), "Dec 31 23:59:59 2049 GMT");
    let dn = i.dn(0);
    assert_eq!(dn[2], ("O".to_string(), "ctl\\01\\1F\\7Fend".to_string()));
    assert_eq!(dn[3], ("OU".to_string(), "Bmp Ü€".to_string()));
    assert_eq!(dn[4], ("".to_string(), "unknown".to_string()));
    // DER sorts the multi-valued RDN's SET: SN comes before CN.
    assert_eq!(dn[5], ("S".to_string(), "multi".to_string()));
    assert_eq!(dn[6], ("CN".to_string(), " #lead,+\"\\\\<>;=trail ".to_string()));
    assert_eq!(i.san(1), vec!["a\\\\b@example.test"]);
    // UTCTime 491231235959Z: year 2049, Dec 31 23:59:59 = 2524607999.
    let then = 2_524_607_999i64;
    assert_eq!(tlsb_cert_info_days_remaining(i.0, then - 2 * 86_400), 2);
}
