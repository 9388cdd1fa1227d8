//! Key exchange groups (TLSGroups): the supported list, a config's groups, the group a handshake
//! negotiated (tlsb_conn_kx_group). Post-quantum groups are tested with their module.

use rustls::crypto::ring::kx_group;
use rustls::crypto::SupportedKxGroup;

use super::vars::{connect, resuming_client_config};
use super::*;

const X25519: u16 = 0x001D;
const P256: u16 = 0x0017;
const P384: u16 = 0x0018;

/// A rustls client offering exactly `groups` (in this order; its key share is for the first).
fn client_with_groups(versions: &[&'static SupportedProtocolVersion], groups: &[&'static dyn SupportedKxGroup]) -> ClientConnection {
    let provider = Arc::new(CryptoProvider { kx_groups: groups.to_vec(), ..rustls::crypto::ring::default_provider() });
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots_of("ca.crt"))
        .with_no_client_auth();
    cfg.dangerous().set_certificate_verifier(Arc::new(Verifier { inner: webpki_verifier(&provider), schemes: None }));
    ClientConnection::new(Arc::new(cfg), ServerName::try_from("localhost").unwrap()).unwrap()
}

fn groups_config(groups: &[u16]) -> (Key, Config) {
    let k = load("rsa.crt", "rsa.key");
    let c = make_config_groups(&[], &[], groups, &[&k], false, &[]).unwrap();
    (k, c)
}

static BOTH: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];

#[test]
fn supported_groups_are_listed_with_names() {
    let (mut p, mut n) = (null(), 0);
    assert_eq!(tlsb_supported_kx_groups(&mut p, &mut n), TLSB_OK);
    let ids = unsafe { std::slice::from_raw_parts(p, n) }.to_vec();
    assert_eq!(ids.len(), 4, "{:04x?}", ids);
    // The classic groups, in the default order, after the post-quantum hybrid.
    assert_eq!(&ids[1..], &[X25519, P256, P384]);
    for id in &ids {
        assert_ne!(s(tlsb_kx_group_name(*id)), "unknown", "{:04x}", id);
    }
    // Static: the same array each time.
    let (mut p2, mut n2) = (null(), 0);
    assert_eq!(tlsb_supported_kx_groups(&mut p2, &mut n2), TLSB_OK);
    assert_eq!((p2, n2), (p, n));
    assert_eq!(tlsb_supported_kx_groups(null_mut(), &mut n), TLSB_ERR_NULL);
    assert_eq!(tlsb_supported_kx_groups(&mut p, null_mut()), TLSB_ERR_NULL);
}

#[test]
fn the_negotiated_group_is_reported() {
    let (_k, cfg) = rsa_config();
    // Before anything is known, and for NULL: 0.
    let mut conn = null_mut();
    assert_eq!(tlsb_conn_new_server(&mut conn), TLSB_OK);
    assert_eq!(tlsb_conn_kx_group(conn), 0);
    tlsb_conn_free(conn);
    assert_eq!(tlsb_conn_kx_group(null()), 0);
    for v in BOTH {
        // rustls's ring client offers x25519, secp256r1, secp384r1.
        let p = Pair::handshake(client(ClientOpts { versions: vec![v], ..Default::default() }), select(&cfg, b""));
        let client_group = u16::from(p.client.negotiated_key_exchange_group().expect("a group").name());
        assert_eq!(client_group, X25519);
        assert_eq!(tlsb_conn_kx_group(p.server), client_group, "{:?}", v.version);
        assert_eq!(s(tlsb_kx_group_name(tlsb_conn_kx_group(p.server))), "x25519");
        for (groups, want) in [
            (&[kx_group::SECP384R1][..], P384),
            (&[kx_group::SECP256R1, kx_group::X25519][..], P256),
        ] {
            let p = Pair::handshake(client_with_groups(&[v], groups), select(&cfg, b""));
            assert_eq!(tlsb_conn_kx_group(p.server), want, "{:?}", v.version);
        }
    }
}

#[test]
fn configured_groups_restrict_the_choice() {
    for v in BOTH {
        // Only secp256r1: a client whose key share is for x25519 is asked again (TLS 1.3) and
        // agrees on secp256r1.
        let (_k, cfg) = groups_config(&[P256]);
        let mut p = Pair::handshake(client(ClientOpts { versions: vec![v], ..Default::default() }), select(&cfg, b""));
        assert_eq!(tlsb_conn_kx_group(p.server), P256, "{:?}", v.version);
        exchange(&mut p);
        // Among the configured groups, rustls 0.23 takes the first the client lists (the client
        // lists x25519, secp256r1, secp384r1).
        let (_k, cfg) = groups_config(&[P384, P256]);
        let p = Pair::handshake(client(ClientOpts { versions: vec![v], ..Default::default() }), select(&cfg, b""));
        assert_eq!(tlsb_conn_kx_group(p.server), P256, "{:?}", v.version);
        let p = Pair::handshake(client_with_groups(&[v], &[kx_group::X25519, kx_group::SECP384R1]), select(&cfg, b""));
        assert_eq!(tlsb_conn_kx_group(p.server), P384, "{:?}", v.version);
    }
}

#[test]
fn no_group_in_common_fails_with_handshake_failure() {
    for v in BOTH {
        let (_k, cfg) = groups_config(&[P384]);
        let mut p = Pair::new(client_with_groups(&[v], &[kx_group::X25519, kx_group::SECP256R1]), select(&cfg, b""));
        p.pump();
        let e = p.server_err.clone().expect("refused");
        assert_eq!((e.code, e.alert_sent), (TLSB_ERR_TLS, 40), "{:?}", e);
        assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(AlertDescription::HandshakeFailure)));
    }
}

#[test]
fn unsupported_groups_are_config_errors() {
    let k = load("rsa.crt", "rsa.key");
    for groups in [&[0x0019u16][..], &[X25519, 0x1234][..], &[0x0100][..]] {
        let e = make_config_groups(&[], &[], groups, &[&k], false, &[]).err().expect("refused");
        assert_eq!(e.code, TLSB_ERR_CONFIG);
        let bad = groups.iter().find(|g| **g != X25519).unwrap();
        assert!(e.message.contains(&format!("0x{:04x}", bad)), "{}", e.message);
    }
    // NULL with a length.
    let kp = k.0 as *const tlsb_certified_key;
    let params = tlsb_server_config_params {
        versions: null(), versions_len: 0, suites: null(), suites_len: 0, groups: null(), groups_len: 1,
        keys: &kp, keys_len: 1, honor_client_order: 0, alpn: null(), alpn_lens: null(), alpn_len: 0,
        client_verifier: null(), session_store: null(), no_session_cache: 0, ticket_keys: null(),
        session_scope: null(), session_scope_len: 0,
    };
    let (mut out, mut e) = (null_mut(), new_err());
    assert_eq!(tlsb_server_config_new(&params, &mut out, &mut e), TLSB_ERR_NULL);
    assert!(msg(&e).contains("params.groups"), "{}", msg(&e));
    assert!(out.is_null());
}

#[test]
fn resumption_reports_the_group_only_when_keys_are_exchanged() {
    let (_k, cfg) = rsa_config();
    // TLS 1.3 resumes with a fresh (EC)DHE exchange (psk_dhe_ke).
    let client_cfg = resuming_client_config(&rustls::version::TLS13);
    connect(&client_cfg, &cfg);
    let p = connect(&client_cfg, &cfg);
    assert_eq!(tlsb_conn_is_resumed(p.server), 1);
    assert_eq!(tlsb_conn_kx_group(p.server), X25519);
    // A TLS 1.2 resumption makes no new key exchange.
    let client_cfg = resuming_client_config(&rustls::version::TLS12);
    let first = connect(&client_cfg, &cfg);
    assert_eq!(tlsb_conn_kx_group(first.server), X25519);
    let p = connect(&client_cfg, &cfg);
    assert_eq!(tlsb_conn_is_resumed(p.server), 1);
    assert_eq!(tlsb_conn_kx_group(p.server), 0);
}
