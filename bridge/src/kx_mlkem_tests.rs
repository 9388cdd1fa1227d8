//! Tests for `kx_mlkem` (X25519MLKEM768).
//!
//! Needs `tests/data/pq/{ca.pem,server.pem,server.key,mlkem768_acvp.txt}` next
//! to the crate's Cargo.toml (`tests/data/pq/gen.sh` regenerates the PKI).
//! Timing: `cargo test --release -- --ignored --nocapture bench_`.

// The corrupting helpers share one `fn(&mut Vec<u8>)` signature.
#![allow(clippy::ptr_arg)]

use super::*;

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::crypto::{ring as ring_provider, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, HandshakeKind, RootCertStore, ServerConfig,
    ServerConnection, SupportedProtocolVersion,
};

const CA_PEM: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pq/ca.pem"));
const SERVER_PEM: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/pq/server.pem"
));
const SERVER_KEY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/pq/server.key"
));
const ACVP: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/pq/mlkem768_acvp.txt"
));

const X25519: &dyn SupportedKxGroup = ring_provider::kx_group::X25519;
const SECP256R1: &dyn SupportedKxGroup = ring_provider::kx_group::SECP256R1;
const HYBRID: &dyn SupportedKxGroup = X25519MLKEM768;

const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

const TYPE_CLIENT_HELLO: u8 = 1;
const TYPE_SERVER_HELLO: u8 = 2;
const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
const EXT_KEY_SHARE: u16 = 0x0033;

// ---------------------------------------------------------------- helpers

fn provider(groups: &[&'static dyn SupportedKxGroup]) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        kx_groups: groups.to_vec(),
        ..ring_provider::default_provider()
    })
}

fn server_config(
    groups: &[&'static dyn SupportedKxGroup],
    versions: &[&'static SupportedProtocolVersion],
) -> Arc<ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(SERVER_PEM)
        .collect::<Result<_, _>>()
        .expect("server.pem");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).expect("server.key");
    Arc::new(
        ServerConfig::builder_with_provider(provider(groups))
            .with_protocol_versions(versions)
            .expect("server versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server cert"),
    )
}

fn client_config(
    groups: &[&'static dyn SupportedKxGroup],
    versions: &[&'static SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(CA_PEM) {
        roots.add(ca.expect("ca.pem")).expect("add CA");
    }
    Arc::new(
        ClientConfig::builder_with_provider(provider(groups))
            .with_protocol_versions(versions)
            .expect("client versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn connect(
    client: &Arc<ClientConfig>,
    server: &Arc<ServerConfig>,
) -> (ClientConnection, ServerConnection) {
    let name = ServerName::try_from("localhost").expect("name");
    (
        ClientConnection::new(client.clone(), name).expect("client conn"),
        ServerConnection::new(server.clone()).expect("server conn"),
    )
}

/// Moves everything `from` wants to write into `to`; returns the bytes.
fn pipe(
    from: &mut dyn FnMut(&mut Vec<u8>) -> bool,
    to: &mut dyn FnMut(&mut &[u8]) -> usize,
) -> Vec<u8> {
    let mut buf = Vec::new();
    while from(&mut buf) {}
    let mut rd = &buf[..];
    while !rd.is_empty() {
        if to(&mut rd) == 0 {
            break;
        }
    }
    buf
}

fn c2s(c: &mut ClientConnection, s: &mut ServerConnection) -> Vec<u8> {
    pipe(
        &mut |buf| c.wants_write() && c.write_tls(buf).expect("client write_tls") > 0,
        &mut |rd| s.read_tls(rd).expect("server read_tls"),
    )
}

fn s2c(s: &mut ServerConnection, c: &mut ClientConnection) -> Vec<u8> {
    pipe(
        &mut |buf| s.wants_write() && s.write_tls(buf).expect("server write_tls") > 0,
        &mut |rd| c.read_tls(rd).expect("client read_tls"),
    )
}

#[derive(Debug, Default)]
struct Outcome {
    client_err: Option<rustls::Error>,
    server_err: Option<rustls::Error>,
    /// Raw TLS records of each flight, in order, tagged `true` for client.
    flights: Vec<(bool, Vec<u8>)>,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.client_err.is_none() && self.server_err.is_none()
    }
    fn first_flight(&self, client: bool) -> &[u8] {
        &self
            .flights
            .iter()
            .find(|(c, _)| *c == client)
            .expect("flight")
            .1
    }
    fn bytes_sent(&self, client: bool) -> usize {
        self.flights
            .iter()
            .filter(|(c, _)| *c == client)
            .map(|(_, b)| b.len())
            .sum()
    }
}

/// Runs the handshake in memory.  On an error on one side, delivers that
/// side's alert to the peer and records the peer's resulting error too.
fn handshake(c: &mut ClientConnection, s: &mut ServerConnection) -> Outcome {
    let mut out = Outcome::default();
    for _ in 0..10 {
        let b = c2s(c, s);
        if !b.is_empty() {
            out.flights.push((true, b));
        }
        if let Err(e) = s.process_new_packets() {
            out.server_err = Some(e);
            let _ = s2c(s, c);
            out.client_err = c.process_new_packets().err();
            return out;
        }
        let b = s2c(s, c);
        if !b.is_empty() {
            out.flights.push((false, b));
        }
        if let Err(e) = c.process_new_packets() {
            out.client_err = Some(e);
            let _ = c2s(c, s);
            out.server_err = s.process_new_packets().err();
            return out;
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            // Flush the client's Finished (TLS 1.3) / anything left over.
            let b = c2s(c, s);
            if !b.is_empty() {
                out.flights.push((true, b));
            }
            out.server_err = s.process_new_packets().err();
            return out;
        }
    }
    panic!("handshake did not finish");
}

fn app_data_round_trip(c: &mut ClientConnection, s: &mut ServerConnection) {
    c.writer().write_all(b"hello over X25519MLKEM768").unwrap();
    c2s(c, s);
    s.process_new_packets().unwrap();
    let mut got = [0u8; 25];
    s.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello over X25519MLKEM768");

    s.writer().write_all(b"pong").unwrap();
    s2c(s, c);
    c.process_new_packets().unwrap();
    let mut got = [0u8; 4];
    c.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong");
}

fn group_of(conn: &rustls::CommonState) -> NamedGroup {
    conn.negotiated_key_exchange_group()
        .expect("negotiated group")
        .name()
}

/// Minimal parser for the first handshake message of a flight (plaintext
/// ClientHello / ServerHello in a single record): returns its extensions.
fn hello_extensions(flight: &[u8], want_type: u8) -> Vec<(u16, Vec<u8>)> {
    fn u16_at(b: &[u8], i: usize) -> usize {
        usize::from(b[i]) << 8 | usize::from(b[i + 1])
    }
    assert_eq!(flight[0], 22, "handshake record");
    let rec_len = u16_at(flight, 3);
    let hs = &flight[5..5 + rec_len];
    assert_eq!(hs[0], want_type);
    let body_len = usize::from(hs[1]) << 16 | u16_at(hs, 2);
    let body = &hs[4..4 + body_len];
    let mut i = 2 + 32; // legacy_version, random
    i += 1 + usize::from(body[i]); // session id
    if want_type == TYPE_CLIENT_HELLO {
        i += 2 + u16_at(body, i); // cipher_suites
        i += 1 + usize::from(body[i]); // compression_methods
    } else {
        i += 2 + 1; // cipher_suite, compression_method
    }
    let ext_end = i + 2 + u16_at(body, i);
    i += 2;
    let mut exts = Vec::new();
    while i < ext_end {
        let typ = u16_at(body, i) as u16;
        let len = u16_at(body, i + 2);
        exts.push((typ, body[i + 4..i + 4 + len].to_vec()));
        i += 4 + len;
    }
    exts
}

fn first_record_len(flight: &[u8]) -> usize {
    5 + (usize::from(flight[3]) << 8 | usize::from(flight[4]))
}

fn ext(exts: &[(u16, Vec<u8>)], typ: u16) -> Option<&[u8]> {
    exts.iter().find(|(t, _)| *t == typ).map(|(_, v)| &v[..])
}

fn supported_groups(client_hello: &[u8]) -> Vec<u16> {
    let exts = hello_extensions(client_hello, TYPE_CLIENT_HELLO);
    let v = ext(&exts, EXT_SUPPORTED_GROUPS).expect("supported_groups");
    v[2..]
        .chunks(2)
        .map(|c| u16::from(c[0]) << 8 | u16::from(c[1]))
        .collect()
}

/// (group, key_exchange) entries of a ClientHello key_share extension.
fn client_key_shares(client_hello: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let exts = hello_extensions(client_hello, TYPE_CLIENT_HELLO);
    let Some(v) = ext(&exts, EXT_KEY_SHARE) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut i = 2;
    while i < v.len() {
        let g = u16::from(v[i]) << 8 | u16::from(v[i + 1]);
        let len = usize::from(v[i + 2]) << 8 | usize::from(v[i + 3]);
        out.push((g, v[i + 4..i + 4 + len].to_vec()));
        i += 4 + len;
    }
    out
}

fn server_key_share(server_flight: &[u8]) -> (u16, Vec<u8>) {
    let exts = hello_extensions(server_flight, TYPE_SERVER_HELLO);
    let v = ext(&exts, EXT_KEY_SHARE).expect("server key_share");
    let g = u16::from(v[0]) << 8 | u16::from(v[1]);
    let len = usize::from(v[2]) << 8 | usize::from(v[3]);
    assert_eq!(v.len(), 4 + len);
    (g, v[4..].to_vec())
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(s.len() % 2 == 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn acvp(field: &str) -> Vec<u8> {
    let prefix = format!("{field}=");
    let line = ACVP
        .lines()
        .find(|l| l.starts_with(&prefix))
        .expect("ACVP field");
    unhex(&line[prefix.len()..])
}

fn x25519_key() -> agreement::EphemeralPrivateKey {
    agreement::EphemeralPrivateKey::generate(&agreement::X25519, &SystemRandom::new()).unwrap()
}

fn x25519_pub(k: &agreement::EphemeralPrivateKey) -> Vec<u8> {
    k.compute_public_key().unwrap().as_ref().to_vec()
}

fn ring_x25519(k: agreement::EphemeralPrivateKey, peer: &[u8]) -> Vec<u8> {
    let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
    agreement::agree_ephemeral(k, &peer, |s| s.to_vec()).unwrap()
}

/// 12-bit coefficient `j` of polynomial `poly` in an encoded ML-KEM key
/// (FIPS 203 ByteEncode12: little-endian bit packing).
fn get_coeff(ek: &[u8], poly: usize, j: usize) -> u16 {
    let b = 384 * poly + (j / 2) * 3;
    if j % 2 == 0 {
        u16::from(ek[b]) | (u16::from(ek[b + 1] & 0x0f) << 8)
    } else {
        u16::from(ek[b + 1] >> 4) | (u16::from(ek[b + 2]) << 4)
    }
}

fn set_coeff(ek: &mut [u8], poly: usize, j: usize, v: u16) {
    assert!(v < 4096);
    let b = 384 * poly + (j / 2) * 3;
    if j % 2 == 0 {
        ek[b] = (v & 0xff) as u8;
        ek[b + 1] = (ek[b + 1] & 0xf0) | ((v >> 8) as u8);
    } else {
        ek[b + 1] = (ek[b + 1] & 0x0f) | (((v & 0x0f) as u8) << 4);
        ek[b + 2] = (v >> 4) as u8;
    }
}

fn fresh_client_share() -> Vec<u8> {
    HYBRID.start().unwrap().pub_key().to_vec()
}

fn assert_invalid_share(r: Result<impl Sized, rustls::Error>) {
    match r {
        Err(rustls::Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare)) => {}
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("malformed input accepted"),
    }
}

// ---- key-share corrupting wrappers (simulate a misbehaving peer)

/// Client-side group that sends a corrupted X25519MLKEM768 share.
#[derive(Debug)]
struct CorruptClientShare {
    corrupt: fn(&mut Vec<u8>),
}

struct CorruptClientKx {
    inner: Box<dyn ActiveKeyExchange>,
    share: Vec<u8>,
}

impl SupportedKxGroup for CorruptClientShare {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let inner = HYBRID.start()?;
        let mut share = inner.pub_key().to_vec();
        (self.corrupt)(&mut share);
        Ok(Box::new(CorruptClientKx { inner, share }))
    }
    fn name(&self) -> NamedGroup {
        HYBRID.name()
    }
    fn usable_for_version(&self, v: ProtocolVersion) -> bool {
        HYBRID.usable_for_version(v)
    }
}

impl ActiveKeyExchange for CorruptClientKx {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        self.inner.complete(peer)
    }
    fn pub_key(&self) -> &[u8] {
        &self.share
    }
    fn group(&self) -> NamedGroup {
        self.inner.group()
    }
}

/// Server-side group that answers with a corrupted server share.
#[derive(Debug)]
struct CorruptServerShare {
    corrupt: fn(&mut Vec<u8>),
}

impl SupportedKxGroup for CorruptServerShare {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        HYBRID.start()
    }
    fn start_and_complete(&self, share: &[u8]) -> Result<CompletedKeyExchange, rustls::Error> {
        let mut ckx = HYBRID.start_and_complete(share)?;
        (self.corrupt)(&mut ckx.pub_key);
        Ok(ckx)
    }
    fn name(&self) -> NamedGroup {
        HYBRID.name()
    }
    fn usable_for_version(&self, v: ProtocolVersion) -> bool {
        HYBRID.usable_for_version(v)
    }
}

fn drop_last(v: &mut Vec<u8>) {
    v.pop();
}
fn add_byte(v: &mut Vec<u8>) {
    v.push(0);
}
fn empty(v: &mut Vec<u8>) {
    v.clear();
}
fn only_x25519(v: &mut Vec<u8>) {
    v.drain(..v.len() - 32);
}
fn coeff_q_first(v: &mut Vec<u8>) {
    set_coeff(v, 0, 0, 3329);
}
fn coeff_4095_last(v: &mut Vec<u8>) {
    set_coeff(v, 2, 255, 4095);
}
fn zero_x25519(v: &mut Vec<u8>) {
    let n = v.len();
    v[n - 32..].fill(0);
}
fn flip_ciphertext_bit(v: &mut Vec<u8>) {
    v[100] ^= 0x01;
}

static C_DROP_LAST: CorruptClientShare = CorruptClientShare { corrupt: drop_last };
static C_ADD_BYTE: CorruptClientShare = CorruptClientShare { corrupt: add_byte };
static C_EMPTY: CorruptClientShare = CorruptClientShare { corrupt: empty };
static C_ONLY_X25519: CorruptClientShare = CorruptClientShare {
    corrupt: only_x25519,
};
static C_COEFF_Q: CorruptClientShare = CorruptClientShare {
    corrupt: coeff_q_first,
};
static C_COEFF_4095: CorruptClientShare = CorruptClientShare {
    corrupt: coeff_4095_last,
};
static C_ZERO_X25519: CorruptClientShare = CorruptClientShare {
    corrupt: zero_x25519,
};

static S_DROP_LAST: CorruptServerShare = CorruptServerShare { corrupt: drop_last };
static S_ADD_BYTE: CorruptServerShare = CorruptServerShare { corrupt: add_byte };
static S_EMPTY: CorruptServerShare = CorruptServerShare { corrupt: empty };
static S_ZERO_X25519: CorruptServerShare = CorruptServerShare {
    corrupt: zero_x25519,
};
static S_FLIP_CT: CorruptServerShare = CorruptServerShare {
    corrupt: flip_ciphertext_bit,
};

// ------------------------------------------------------------------ tests

#[test]
fn group_metadata() {
    assert_eq!(HYBRID.name(), NamedGroup::X25519MLKEM768);
    assert_eq!(u16::from(HYBRID.name()), 0x11ec);
    assert_eq!(format!("{HYBRID:?}"), "X25519MLKEM768");
    assert!(!HYBRID.fips());
    assert!(HYBRID.ffdhe_group().is_none());
    assert!(HYBRID.usable_for_version(ProtocolVersion::TLSv1_3));
    assert!(!HYBRID.usable_for_version(ProtocolVersion::TLSv1_2));
    assert!(!HYBRID.usable_for_version(ProtocolVersion::TLSv1_1));
    assert_eq!(
        HYBRID.name().key_exchange_algorithm(),
        rustls::crypto::KeyExchangeAlgorithm::ECDHE
    );
}

/// (e) sizes: 1216 / 1120 / 64; both sides agree; hybrid component layout.
#[test]
fn share_and_secret_sizes() {
    let client = HYBRID.start().unwrap();
    assert_eq!(client.group(), NamedGroup::X25519MLKEM768);
    assert_eq!(client.pub_key().len(), 1216);
    let (g, x) = client.hybrid_component().expect("hybrid component");
    assert_eq!(g, NamedGroup::X25519);
    assert_eq!(x, &client.pub_key()[1184..]);

    let server = HYBRID.start_and_complete(client.pub_key()).unwrap();
    assert_eq!(server.group, NamedGroup::X25519MLKEM768);
    assert_eq!(server.pub_key.len(), 1120);
    assert_eq!(server.secret.secret_bytes().len(), 64);

    let client_secret = client.complete(&server.pub_key).unwrap();
    assert_eq!(client_secret.secret_bytes().len(), 64);
    assert_eq!(client_secret.secret_bytes(), server.secret.secret_bytes());
}

/// (f) Server side against a NIST ACVP ML-KEM-768 vector (tcId 26): with the
/// vector's randomness m, our server share must start with the vector's
/// ciphertext and our secret with its K; the X25519 half is recomputed by
/// ring independently.
#[test]
fn kat_server_side_acvp_vector() {
    let (ek, m, c, k) = (acvp("enc_ek"), acvp("enc_m"), acvp("enc_c"), acvp("enc_k"));
    let client_x = x25519_key();
    let mut client_share = ek.clone();
    client_share.extend_from_slice(&x25519_pub(&client_x));

    let (parsed_ek, peer_x) = parse_client_share(&client_share).unwrap();
    let m: [u8; 32] = m.try_into().unwrap();
    let ckx = server_complete(&parsed_ek, peer_x, x25519_key(), |ek| {
        Ok(ek.encaps_from_seed(&m))
    })
    .unwrap();

    assert_eq!(ckx.pub_key.len(), SERVER_SHARE_LEN);
    assert_eq!(&ckx.pub_key[..1088], &c[..], "ML-KEM ciphertext first");
    let secret = ckx.secret.secret_bytes();
    assert_eq!(&secret[..32], &k[..], "ML-KEM secret first");
    assert_eq!(
        &secret[32..],
        &ring_x25519(client_x, &ckx.pub_key[1088..])[..]
    );
}

/// (f) Client side against the same ACVP vector: decapsulating the vector's
/// ciphertext inside our `complete()` yields the vector's K, followed by the
/// X25519 secret that ring computes independently.
#[test]
fn kat_client_side_acvp_vector() {
    let (ek, dk, c, k) = (acvp("enc_ek"), acvp("enc_dk"), acvp("enc_c"), acvp("enc_k"));
    let ek_obj = ml_kem_768::EncapsKey::try_from_bytes(ek.clone().try_into().unwrap()).unwrap();
    let dk_obj = ml_kem_768::DecapsKey::try_from_bytes(dk.try_into().unwrap()).unwrap();
    let client = client_start(ek_obj, dk_obj, x25519_key()).unwrap();
    assert_eq!(&client.share[..1184], &ek[..], "encapsulation key first");
    let client_x_pub = client.share[1184..].to_vec();

    let server_x = x25519_key();
    let mut server_share = c;
    server_share.extend_from_slice(&x25519_pub(&server_x));
    let secret = Box::new(client).complete(&server_share).unwrap();
    assert_eq!(&secret.secret_bytes()[..32], &k[..]);
    assert_eq!(
        &secret.secret_bytes()[32..],
        &ring_x25519(server_x, &client_x_pub)[..]
    );
}

/// (f) ACVP decapsulation vector with a modified ciphertext (tcId 86):
/// ML-KEM's implicit rejection must give the vector's pseudo-random K, not
/// an error (the TLS handshake then fails later, at the record layer).
#[test]
fn kat_client_side_implicit_rejection() {
    let (dk, c, k) = (acvp("dec_dk"), acvp("dec_c"), acvp("dec_k"));
    // FIPS 203 dk = dk_PKE (1152) || ek (1184) || H(ek) || z
    let ek: [u8; 1184] = dk[1152..1152 + 1184].try_into().unwrap();
    let ek_obj = ml_kem_768::EncapsKey::try_from_bytes(ek).unwrap();
    let dk_obj = ml_kem_768::DecapsKey::try_from_bytes(dk.try_into().unwrap()).unwrap();
    let client = client_start(ek_obj, dk_obj, x25519_key()).unwrap();
    let mut server_share = c;
    server_share.extend_from_slice(&x25519_pub(&x25519_key()));
    let secret = Box::new(client).complete(&server_share).unwrap();
    assert_eq!(&secret.secret_bytes()[..32], &k[..]);
}

/// (f) Cross-check with fresh random keys, the peer side done directly with
/// fips203 + ring, in both directions.
#[test]
fn cross_check_against_fips203_and_ring() {
    // Our client, independent server.
    let client = HYBRID.start().unwrap();
    let share = client.pub_key().to_vec();
    let ek = ml_kem_768::EncapsKey::try_from_bytes(share[..1184].try_into().unwrap()).unwrap();
    let (k, ct) = ek.try_encaps().unwrap();
    let server_x = x25519_key();
    let mut server_share = ct.into_bytes().to_vec();
    server_share.extend_from_slice(&x25519_pub(&server_x));
    let mut expected = k.into_bytes().to_vec();
    expected.extend_from_slice(&ring_x25519(server_x, &share[1184..]));
    assert_eq!(
        client.complete(&server_share).unwrap().secret_bytes(),
        &expected[..]
    );

    // Independent client, our server.
    let (ek, dk) = ml_kem_768::KG::try_keygen().unwrap();
    let client_x = x25519_key();
    let mut client_share = ek.into_bytes().to_vec();
    client_share.extend_from_slice(&x25519_pub(&client_x));
    let ckx = HYBRID.start_and_complete(&client_share).unwrap();
    let ct =
        ml_kem_768::CipherText::try_from_bytes(ckx.pub_key[..1088].try_into().unwrap()).unwrap();
    let mut expected = dk.try_decaps(&ct).unwrap().into_bytes().to_vec();
    expected.extend_from_slice(&ring_x25519(client_x, &ckx.pub_key[1088..]));
    assert_eq!(ckx.secret.secret_bytes(), &expected[..]);
}

/// The FIPS 203 modulus check is really done by `EncapsKey::try_from_bytes`
/// (and therefore by our server): every coefficient of every polynomial at
/// both ends, values q and 2^12-1 are rejected; q-1 is accepted.
#[test]
fn encapsulation_key_modulus_check() {
    let share = fresh_client_share();
    // The helper reads a real key correctly: all coefficients are < q.
    for poly in 0..3 {
        for j in 0..256 {
            assert!(get_coeff(&share, poly, j) < 3329);
        }
    }
    for poly in 0..3 {
        for j in [0, 1, 128, 254, 255] {
            for (v, ok) in [(3328u16, true), (3329, false), (3330, false), (4095, false)] {
                let mut bad = share.clone();
                set_coeff(&mut bad, poly, j, v);
                assert_eq!(get_coeff(&bad, poly, j), v);
                let ek: [u8; 1184] = bad[..1184].try_into().unwrap();
                assert_eq!(
                    ml_kem_768::EncapsKey::try_from_bytes(ek).is_ok(),
                    ok,
                    "fips203 poly {poly} coeff {j} = {v}"
                );
                assert_eq!(parse_client_share(&bad).is_ok(), ok);
                if !ok {
                    assert_invalid_share(HYBRID.start_and_complete(&bad));
                }
            }
        }
    }
    // rho (the last 32 bytes of ek) is arbitrary: not subject to the check.
    let mut rho = share.clone();
    rho[1152..1184].fill(0xff);
    assert!(HYBRID.start_and_complete(&rho).is_ok());
}

/// Server side: no panic and `InvalidKeyShare` for malformed client shares.
#[test]
fn server_rejects_malformed_client_shares() {
    let good = fresh_client_share();
    for len in [
        0usize, 1, 32, 1183, 1184, 1185, 1215, 1217, 1248, 2432, 65535,
    ] {
        let mut v = good.clone();
        v.resize(len, 0x42);
        assert_invalid_share(HYBRID.start_and_complete(&v));
    }
    // Old X25519Kyber768Draft00 order (X25519 first) is rejected when the
    // resulting "key" fails the modulus check.
    let mut swapped = good[1184..].to_vec();
    swapped.extend_from_slice(&good[..1184]);
    swapped[..32].fill(0xff);
    assert_invalid_share(HYBRID.start_and_complete(&swapped));
    // All-zero X25519 point (small order -> all-zero shared secret).
    let mut v = good.clone();
    v[1184..].fill(0);
    assert_invalid_share(HYBRID.start_and_complete(&v));
    // Another small-order point, u = 1 (order 4): X25519 output is zero too.
    let mut v = good.clone();
    v[1184..].fill(0);
    v[1184] = 1;
    assert_invalid_share(HYBRID.start_and_complete(&v));
    // Random junk of the right length: no panic; almost surely rejected by
    // the modulus check (768 coefficients each < q with prob. 0.81).
    let rng = SystemRandom::new();
    for _ in 0..200 {
        let mut v = vec![0u8; 1216];
        ring::rand::SecureRandom::fill(&rng, &mut v).unwrap();
        let _ = HYBRID.start_and_complete(&v);
    }
}

/// Client side: no panic and `InvalidKeyShare` for malformed server shares.
#[test]
fn client_rejects_malformed_server_shares() {
    let server_share = {
        let c = HYBRID.start().unwrap();
        HYBRID.start_and_complete(c.pub_key()).unwrap().pub_key
    };
    for len in [0usize, 1, 32, 1087, 1088, 1089, 1119, 1121, 1216, 65535] {
        let mut v = server_share.clone();
        v.resize(len, 0x42);
        assert_invalid_share(HYBRID.start().unwrap().complete(&v));
    }
    let mut v = server_share.clone();
    v[1088..].fill(0);
    assert_invalid_share(HYBRID.start().unwrap().complete(&v));
    // Hybrid component path (server picked our X25519 share).
    for len in [0usize, 31, 33, 1120] {
        let v = vec![9u8; len];
        assert_invalid_share(HYBRID.start().unwrap().complete_hybrid_component(&v));
    }
    assert_invalid_share(
        HYBRID
            .start()
            .unwrap()
            .complete_hybrid_component(&[0u8; 32]),
    );
    // Arbitrary ciphertext of the right length is not an error (implicit
    // rejection) and does not panic.
    let rng = SystemRandom::new();
    for _ in 0..20 {
        let mut v = vec![0u8; 1120];
        ring::rand::SecureRandom::fill(&rng, &mut v).unwrap();
        let _ = HYBRID.start().unwrap().complete(&v);
    }
}

/// (a) Full TLS 1.3 handshake negotiating X25519MLKEM768, wire-level sizes,
/// and application data both ways.
#[test]
fn handshake_negotiates_x25519mlkem768() {
    let client = client_config(&[HYBRID, X25519], BOTH);
    let server = server_config(&[HYBRID, X25519], BOTH);
    let (mut c, mut s) = connect(&client, &server);
    let out = handshake(&mut c, &mut s);
    assert!(out.ok(), "{out:?}");
    assert_eq!(group_of(&c), NamedGroup::X25519MLKEM768);
    assert_eq!(group_of(&s), NamedGroup::X25519MLKEM768);
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::Full));

    // On the wire: ClientHello offers 0x11ec and carries the 1216-byte hybrid
    // share plus the 32-byte X25519 share (same X25519 key).
    let ch = out.first_flight(true);
    let groups = supported_groups(ch);
    assert_eq!(&groups[..2], &[0x11ec, 0x001d]);
    let shares = client_key_shares(ch);
    assert_eq!(shares.len(), 2);
    assert_eq!((shares[0].0, shares[0].1.len()), (0x11ec, 1216));
    assert_eq!((shares[1].0, shares[1].1.len()), (0x001d, 32));
    assert_eq!(&shares[0].1[1184..], &shares[1].1[..]);
    let (g, sh) = server_key_share(out.first_flight(false));
    assert_eq!((g, sh.len()), (0x11ec, 1120));

    app_data_round_trip(&mut c, &mut s);
}

/// (b) Server prefers X25519MLKEM768, the client only offers X25519.
#[test]
fn server_prefers_hybrid_client_offers_only_x25519() {
    let client = client_config(&[X25519], BOTH);
    let server = server_config(&[HYBRID, X25519], BOTH);
    let (mut c, mut s) = connect(&client, &server);
    let out = handshake(&mut c, &mut s);
    assert!(out.ok(), "{out:?}");
    assert_eq!(group_of(&c), NamedGroup::X25519);
    assert_eq!(group_of(&s), NamedGroup::X25519);
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::Full));
    app_data_round_trip(&mut c, &mut s);
}

/// Hybrid-preferring client, X25519-only server: the server takes the
/// client's extra X25519 share (our `hybrid_component`), no HelloRetryRequest.
#[test]
fn hybrid_client_x25519_only_server_uses_component_share() {
    let client = client_config(&[HYBRID, X25519], BOTH);
    let server = server_config(&[X25519], BOTH);
    let (mut c, mut s) = connect(&client, &server);
    let out = handshake(&mut c, &mut s);
    assert!(out.ok(), "{out:?}");
    assert_eq!(group_of(&c), NamedGroup::X25519);
    assert_eq!(group_of(&s), NamedGroup::X25519);
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::Full));
    app_data_round_trip(&mut c, &mut s);
}

/// Client sends a P-256 share first; hybrid-only server asks for
/// X25519MLKEM768 via HelloRetryRequest; the hybrid completes after HRR.
#[test]
fn hello_retry_request_to_hybrid() {
    let client = client_config(&[SECP256R1, HYBRID], TLS13);
    let server = server_config(&[HYBRID], TLS13);
    let (mut c, mut s) = connect(&client, &server);
    let out = handshake(&mut c, &mut s);
    assert!(out.ok(), "{out:?}");
    assert_eq!(group_of(&c), NamedGroup::X25519MLKEM768);
    assert_eq!(group_of(&s), NamedGroup::X25519MLKEM768);
    assert_eq!(
        s.handshake_kind(),
        Some(HandshakeKind::FullWithHelloRetryRequest)
    );
    app_data_round_trip(&mut c, &mut s);
}

/// TLS 1.2 never uses the hybrid: a TLS 1.2-only client does not even offer
/// it, and a TLS 1.2-only server does not select it.
#[test]
fn tls12_never_picks_hybrid() {
    // TLS 1.2-only on both sides.
    let client = client_config(&[HYBRID, X25519], TLS12);
    let server = server_config(&[HYBRID, X25519], TLS12);
    let (mut c, mut s) = connect(&client, &server);
    let out = handshake(&mut c, &mut s);
    assert!(out.ok(), "{out:?}");
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(group_of(&c), NamedGroup::X25519);
    assert_eq!(group_of(&s), NamedGroup::X25519);
    let ch = out.first_flight(true);
    assert_eq!(supported_groups(ch), vec![0x001d]);
    assert!(client_key_shares(ch).is_empty());
    app_data_round_trip(&mut c, &mut s);

    // 1.2+1.3 client offering the hybrid, TLS 1.2-only server: X25519.
    let client = client_config(&[HYBRID, X25519], BOTH);
    let (mut c, mut s) = connect(&client, &server);
    let out = handshake(&mut c, &mut s);
    assert!(out.ok(), "{out:?}");
    assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(group_of(&s), NamedGroup::X25519);
    assert_eq!(group_of(&c), NamedGroup::X25519);

    // TLS 1.2-only server whose only group is the hybrid: no common group.
    let server = server_config(&[HYBRID], TLS12);
    let (mut c, mut s) = connect(&client, &server);
    let out = handshake(&mut c, &mut s);
    assert!(matches!(
        out.server_err,
        Some(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::NoKxGroupsInCommon
        ))
    ));
}

/// (c) Malformed client share in a real handshake: the server fails with
/// `InvalidKeyShare` and sends illegal_parameter, which the client receives.
#[test]
fn malformed_client_share_gets_illegal_parameter() {
    let server = server_config(&[HYBRID, X25519], TLS13);
    let cases: [(&str, &'static CorruptClientShare); 7] = [
        ("1215 bytes", &C_DROP_LAST),
        ("1217 bytes", &C_ADD_BYTE),
        ("empty", &C_EMPTY),
        ("x25519 only (32 bytes)", &C_ONLY_X25519),
        ("coefficient = q", &C_COEFF_Q),
        ("coefficient = 4095", &C_COEFF_4095),
        ("all-zero x25519 point", &C_ZERO_X25519),
    ];
    for (what, group) in cases {
        let client = client_config(&[group, X25519], TLS13);
        let (mut c, mut s) = connect(&client, &server);
        let out = handshake(&mut c, &mut s);
        assert!(
            matches!(
                out.server_err,
                Some(rustls::Error::PeerMisbehaved(
                    PeerMisbehaved::InvalidKeyShare
                ))
            ),
            "{what}: {out:?}"
        );
        assert_eq!(
            out.client_err,
            Some(rustls::Error::AlertReceived(
                AlertDescription::IllegalParameter
            )),
            "{what}"
        );
        // The corrupted hybrid share is what went on the wire.
        let shares = client_key_shares(out.first_flight(true));
        assert_eq!(shares.len(), 1, "{what}");
        assert_eq!(shares[0].0, 0x11ec, "{what}");
    }
}

/// (d) Malformed server share: the client fails (no panic), sends
/// illegal_parameter for a bad length / bad point; a tampered ciphertext of
/// the right length makes the handshake fail at the record layer.
#[test]
fn malformed_server_share_fails_on_client() {
    let client = client_config(&[HYBRID, X25519], TLS13);
    let cases: [(&str, &'static CorruptServerShare); 4] = [
        ("1119 bytes", &S_DROP_LAST),
        ("1121 bytes", &S_ADD_BYTE),
        ("empty", &S_EMPTY),
        ("all-zero x25519 point", &S_ZERO_X25519),
    ];
    for (what, group) in cases {
        let server = server_config(&[group, X25519], TLS13);
        let (mut c, mut s) = connect(&client, &server);
        let out = handshake(&mut c, &mut s);
        assert!(
            matches!(
                out.client_err,
                Some(rustls::Error::PeerMisbehaved(
                    PeerMisbehaved::InvalidKeyShare
                ))
            ),
            "{what}: {out:?}"
        );
        assert_eq!(
            out.server_err,
            Some(rustls::Error::AlertReceived(
                AlertDescription::IllegalParameter
            )),
            "{what}"
        );
    }

    let server = server_config(&[&S_FLIP_CT, X25519], TLS13);
    let (mut c, mut s) = connect(&client, &server);
    let out = handshake(&mut c, &mut s);
    // Implicit rejection: the client derives different handshake keys and
    // cannot decrypt EncryptedExtensions; its bad_record_mac alert is
    // protected with those keys, so the server cannot read it either.
    assert_eq!(out.client_err, Some(rustls::Error::DecryptError), "{out:?}");
    assert_eq!(out.server_err, Some(rustls::Error::DecryptError), "{out:?}");
}

/// Per-handshake byte cost on the wire, hybrid vs X25519 (printed; the
/// differences are asserted against the layout).
#[test]
fn wire_cost_vs_x25519() {
    let run = |groups: &[&'static dyn SupportedKxGroup]| {
        let (mut c, mut s) = connect(&client_config(groups, TLS13), &server_config(groups, TLS13));
        let out = handshake(&mut c, &mut s);
        assert!(out.ok());
        (
            first_record_len(out.first_flight(true)),
            first_record_len(out.first_flight(false)),
            out.bytes_sent(true),
            out.bytes_sent(false),
        )
    };
    let x = run(&[X25519]);
    let h = run(&[HYBRID]);
    let hx = run(&[HYBRID, X25519]);
    println!(
        "ClientHello record: x25519 {} | hybrid {} | hybrid+x25519 {}",
        x.0, h.0, hx.0
    );
    println!(
        "ServerHello record: x25519 {} | hybrid {} | hybrid+x25519 {}",
        x.1, h.1, hx.1
    );
    println!(
        "client bytes total: x25519 {} | hybrid {} | hybrid+x25519 {}",
        x.2, h.2, hx.2
    );
    println!(
        "server bytes total: x25519 {} | hybrid {} | hybrid+x25519 {}",
        x.3, h.3, hx.3
    );
    // Only the key_exchange payloads differ (group ids are the same size).
    assert_eq!(h.0 - x.0, 1216 - 32);
    assert_eq!(h.1 - x.1, 1120 - 32);
    // Extra X25519 share: 2 (group) + 2 (len) + 32, plus 2 in supported_groups.
    assert_eq!(hx.0 - h.0, 4 + 32 + 2);
    assert_eq!(hx.1, h.1);
}

/// CPU cost of one server-side `start_and_complete` (and the client's
/// `start` + `complete`), hybrid vs X25519.  Run in release:
/// `cargo test --release -- --ignored --nocapture bench_`.
/// Reports the best batch (least disturbed by other load) of wall time and of
/// this thread's CPU time (Linux `/proc/thread-self/schedstat`, if readable).
#[test]
#[ignore]
fn bench_kx_cpu_cost() {
    use std::time::Instant;
    const BATCHES: u32 = 15;
    const PER_BATCH: u32 = 200;
    fn thread_cpu_ns() -> Option<u64> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        s.split_whitespace().next()?.parse().ok()
    }
    // Returns (best wall us/op, best thread-CPU us/op).
    let time = |f: &mut dyn FnMut()| {
        for _ in 0..PER_BATCH {
            f(); // warm-up
        }
        let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
        for _ in 0..BATCHES {
            let (t, c) = (Instant::now(), thread_cpu_ns());
            for _ in 0..PER_BATCH {
                f();
            }
            let w = t.elapsed().as_secs_f64() * 1e6 / f64::from(PER_BATCH);
            wall = wall.min(w);
            if let (Some(c0), Some(c1)) = (c, thread_cpu_ns()) {
                cpu = cpu.min((c1 - c0) as f64 / 1e3 / f64::from(PER_BATCH));
            }
        }
        (wall, cpu)
    };
    let ek_bytes: [u8; 1184] = fresh_client_share()[..1184].try_into().unwrap();
    let (w, c) = time(&mut || {
        let ek = ml_kem_768::EncapsKey::try_from_bytes(ek_bytes).unwrap();
        std::hint::black_box(ek.try_encaps().unwrap());
    });
    println!(
        "{:15} modulus check + encaps       wall {w:6.1} us  cpu {c:6.1} us",
        "ML-KEM-768"
    );
    for (name, g) in [("X25519MLKEM768", HYBRID), ("X25519", X25519)] {
        let client_share = g.start().unwrap().pub_key().to_vec();
        let server_share = g.start_and_complete(&client_share).unwrap().pub_key;
        let (w, c) = time(&mut || {
            let r = g.start_and_complete(&client_share).unwrap();
            std::hint::black_box(r.secret.secret_bytes());
        });
        println!("{name:15} server start_and_complete    wall {w:6.1} us  cpu {c:6.1} us");
        let (w, c) = time(&mut || {
            std::hint::black_box(g.start().unwrap());
        });
        println!("{name:15} client start()               wall {w:6.1} us  cpu {c:6.1} us");
        let (w, c) = time(&mut || {
            let k = g.start().unwrap();
            std::hint::black_box(k.complete(&server_share).unwrap().secret_bytes().len());
        });
        println!("{name:15} client start()+complete()    wall {w:6.1} us  cpu {c:6.1} us");
    }
}
