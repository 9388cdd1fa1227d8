//! In-memory handshakes between the bridge (driven only through its C ABI functions) and a rustls
//! client. Test certificates: tests/data/make.sh.

use std::ffi::CStr;
use std::io::{Read, Write};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::ring::cipher_suite;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};

use crate::conn::PANIC_IN_PROCESS;
use crate::ffi::*;
use crate::*;
// The C ABI functions live in the modules of their concern.
use crate::{
    certinfo::*, client::*, client_verify::*, config::*, conn::*, groups::*, key::*, names::*, ocsp::*, session_store::*,
    suite_bits::*, ticket_keys::*,
};

// ---- fixtures ------------------------------------------------------------------------------

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{}", env!("CARGO_MANIFEST_DIR"), name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {}", path, e))
}

/// The certificates of a PEM file, as DER.
fn der_certs(name: &str) -> Vec<Vec<u8>> {
    cert_ders(name).into_iter().map(|c| c.as_ref().to_vec()).collect()
}

fn cert_ders(name: &str) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut &data(name)[..]).collect::<Result<Vec<_>, _>>().unwrap()
}

/// The first private key of a PEM file.
fn private_key(name: &str) -> PrivateKeyDer<'static> {
    rustls_pemfile::private_key(&mut &data(name)[..]).unwrap().expect("a private key")
}

/// The trust anchors of a PEM file.
fn roots_of(name: &str) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for c in cert_ders(name) {
        roots.add(c).unwrap();
    }
    roots
}

/// ring's provider with exactly these cipher suites (in this order) and its default groups.
fn provider_with(suites: &[SupportedCipherSuite]) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider { cipher_suites: suites.to_vec(), ..rustls::crypto::ring::default_provider() })
}

fn new_err() -> tlsb_error {
    tlsb_error { code: 0, alert_sent: 0, alert_received: 0, message: [0; 256] }
}

fn msg(e: &tlsb_error) -> String {
    unsafe { CStr::from_ptr(e.message.as_ptr()) }.to_string_lossy().into_owned()
}

fn s(p: *const c_char) -> &'static str {
    unsafe { CStr::from_ptr(p) }.to_str().unwrap()
}

unsafe fn span<'a>(p: *const u8, len: usize) -> &'a [u8] {
    std::slice::from_raw_parts(p, len)
}

// ---- the TLS sink shared by all test modules -------------------------------------------------

/// The ctx of `record_sink`: what a `tlsb_conn_send_tls` sink was offered and what it accepted.
#[derive(Default)]
pub(crate) struct Sink {
    /// Refuse (return 0) from this call on (counting from 0); None accepts every batch.
    pub refuse_from: Option<usize>,
    /// Batches offered so far, accepted or not.
    pub calls: usize,
    /// Every accepted batch, one Vec per slice, in order.
    pub accepted: Vec<Vec<Vec<u8>>>,
    /// Every refused batch, one Vec per slice.
    pub refused: Vec<Vec<Vec<u8>>>,
    /// Slices with a NULL data pointer (must stay 0).
    pub null_slices: usize,
}

/// A `tlsb_tls_sink` over a `Sink`: copies each slice, then accepts or refuses the batch.
/// It must not panic (it is called across the C ABI), so it only records.
unsafe extern "C" fn record_sink(ctx: *mut c_void, batch: *const tlsb_slice, count: usize) -> c_int {
    let sink = &mut *(ctx as *mut Sink);
    let slices: &[tlsb_slice] = if count == 0 { &[] } else { std::slice::from_raw_parts(batch, count) };
    let mut copied = Vec::with_capacity(count);
    for sl in slices {
        if sl.data.is_null() {
            sink.null_slices += 1;
            copied.push(Vec::new());
        } else {
            copied.push(std::slice::from_raw_parts(sl.data, sl.len).to_vec());
        }
    }
    let accept = sink.refuse_from.map_or(true, |from| sink.calls < from);
    sink.calls += 1;
    if accept {
        sink.accepted.push(copied);
        1
    } else {
        sink.refused.push(copied);
        0
    }
}

impl Sink {
    pub(crate) fn refusing_from(call: usize) -> Sink {
        Sink { refuse_from: Some(call), ..Default::default() }
    }

    /// One `tlsb_conn_send_tls` into this sink: (result, *sent, error).
    pub(crate) fn send(&mut self, conn: *mut tlsb_conn) -> (tlsb_result, usize, tlsb_error) {
        let mut sent = usize::MAX;
        let mut e = new_err();
        let r = tlsb_conn_send_tls(conn, Some(record_sink), self as *mut Sink as *mut c_void, &mut sent, &mut e);
        assert_eq!(self.null_slices, 0, "a lent slice had a NULL data pointer");
        (r, sent, e)
    }

    /// Every accepted byte, in order.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.accepted.iter().flatten().flatten().copied().collect()
    }
}

/// Takes everything `conn` has queued through an accepting sink: (result, the bytes). On TLSB_OK
/// *sent matched the bytes the sink received.
pub(crate) fn drain_tls(conn: *mut tlsb_conn) -> (tlsb_result, Vec<u8>) {
    let mut sink = Sink::default();
    let (r, sent, _) = sink.send(conn);
    let bytes = sink.bytes();
    if r == TLSB_OK {
        assert_eq!(sent, bytes.len(), "*sent is not what the sink received");
    }
    (r, bytes)
}

#[derive(Debug, Clone)]
struct ErrInfo {
    code: tlsb_result,
    alert_sent: u16,
    alert_received: u16,
    message: String,
}

impl ErrInfo {
    fn from(code: tlsb_result, e: &tlsb_error) -> Self {
        assert_eq!(e.code, code as u32);
        ErrInfo { code, alert_sent: e.alert_sent, alert_received: e.alert_received, message: msg(e) }
    }
}

struct Key(*mut tlsb_certified_key);
impl Drop for Key {
    fn drop(&mut self) {
        tlsb_certified_key_free(self.0)
    }
}

fn load_pem(cert: &[u8], key: &[u8]) -> Result<Key, ErrInfo> {
    let mut out = null_mut();
    let mut e = new_err();
    let r = tlsb_certified_key_new(cert.as_ptr(), cert.len(), key.as_ptr(), key.len(), &mut out, &mut e);
    if r == TLSB_OK {
        assert!(!out.is_null());
        Ok(Key(out))
    } else {
        assert!(out.is_null());
        Err(ErrInfo::from(r, &e))
    }
}

fn load(cert: &str, key: &str) -> Key {
    load_pem(&data(cert), &data(key)).unwrap()
}

struct Config(*mut tlsb_server_config);
impl Drop for Config {
    fn drop(&mut self) {
        tlsb_server_config_free(self.0)
    }
}

fn make_config(versions: &[u16], suites: &[u16], keys: &[&Key], honor: bool, alpn: &[&[u8]]) -> Result<Config, ErrInfo> {
    make_config_groups(versions, suites, &[], keys, honor, alpn)
}

fn make_config_groups(
    versions: &[u16],
    suites: &[u16],
    groups: &[u16],
    keys: &[&Key],
    honor: bool,
    alpn: &[&[u8]],
) -> Result<Config, ErrInfo> {
    let key_ptrs: Vec<*const tlsb_certified_key> = keys.iter().map(|k| k.0 as *const _).collect();
    let alpn_ptrs: Vec<*const u8> = alpn.iter().map(|a| a.as_ptr()).collect();
    let alpn_lens: Vec<usize> = alpn.iter().map(|a| a.len()).collect();
    let params = tlsb_server_config_params {
        versions: versions.as_ptr(),
        versions_len: versions.len(),
        suites: suites.as_ptr(),
        suites_len: suites.len(),
        groups: groups.as_ptr(),
        groups_len: groups.len(),
        keys: key_ptrs.as_ptr(),
        keys_len: key_ptrs.len(),
        honor_client_order: honor as i32,
        alpn: alpn_ptrs.as_ptr(),
        alpn_lens: alpn_lens.as_ptr(),
        alpn_len: alpn.len(),
        client_verifier: null(),
        session_store: null(),
        no_session_cache: 0,
        ticket_keys: null(),
        session_scope: null(),
        session_scope_len: 0,
    };
    let mut out = null_mut();
    let mut e = new_err();
    let r = tlsb_server_config_new(&params, &mut out, &mut e);
    if r == TLSB_OK {
        Ok(Config(out))
    } else {
        assert!(out.is_null());
        Err(ErrInfo::from(r, &e))
    }
}

fn rsa_config() -> (Key, Config) {
    let k = load("rsa.crt", "rsa.key");
    let c = make_config(&[], &[], &[&k], false, &[]).unwrap();
    (k, c)
}

/// A verifier trusting ca.crt that offers only `schemes` (or webpki's defaults) in the
/// ClientHello's signature_algorithms.
#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    schemes: Option<Vec<SignatureScheme>>,
}

/// rustls's verifier for the certificates of ca.crt.
fn webpki_verifier(provider: &Arc<CryptoProvider>) -> Arc<WebPkiServerVerifier> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots_of("ca.crt")), provider.clone()).build().unwrap()
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
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
        self.schemes.clone().unwrap_or_else(|| self.inner.supported_verify_schemes())
    }
}

struct ClientOpts {
    versions: Vec<&'static SupportedProtocolVersion>,
    suites: Vec<SupportedCipherSuite>,
    alpn: Vec<Vec<u8>>,
    schemes: Option<Vec<SignatureScheme>>,
    sni: &'static str,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts {
            versions: rustls::ALL_VERSIONS.to_vec(),
            suites: rustls::crypto::ring::ALL_CIPHER_SUITES.to_vec(),
            alpn: Vec::new(),
            schemes: None,
            sni: "localhost",
        }
    }
}

fn client(o: ClientOpts) -> ClientConnection {
    let provider = provider_with(&o.suites);
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&o.versions)
        .unwrap()
        .with_root_certificates(roots_of("ca.crt"))
        .with_no_client_auth();
    cfg.alpn_protocols = o.alpn;
    cfg.dangerous()
        .set_certificate_verifier(Arc::new(Verifier { inner: webpki_verifier(&provider), schemes: o.schemes }));
    ClientConnection::new(Arc::new(cfg), ServerName::try_from(o.sni).unwrap()).unwrap()
}

// ---- the pump ------------------------------------------------------------------------------

type Hook = Box<dyn FnMut(*mut tlsb_conn, &mut tlsb_error) -> tlsb_result>;

/// Selects `config` with `alpn` when the ClientHello is ready.
fn select(config: &Config, alpn: &'static [u8]) -> Hook {
    let cfg = config.0 as *const tlsb_server_config;
    Box::new(move |c, e| tlsb_conn_select_config(c, cfg, alpn.as_ptr(), alpn.len(), e))
}

struct Pair {
    client: ClientConnection,
    server: *mut tlsb_conn,
    hook: Hook,
    server_plain: Vec<u8>,
    client_plain: Vec<u8>,
    server_err: Option<ErrInfo>,
    client_err: Option<rustls::Error>,
    /// Every byte the server wrote, in order.
    server_wire: Vec<u8>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        tlsb_conn_free(self.server)
    }
}

impl Pair {
    fn new(client: ClientConnection, hook: Hook) -> Pair {
        let mut server = null_mut();
        assert_eq!(tlsb_conn_new_server(&mut server), TLSB_OK);
        Pair {
            client,
            server,
            hook,
            server_plain: Vec::new(),
            client_plain: Vec::new(),
            server_err: None,
            client_err: None,
            server_wire: Vec::new(),
        }
    }

    fn handshake(client: ClientConnection, hook: Hook) -> Pair {
        let mut p = Pair::new(client, hook);
        p.pump();
        assert!(p.server_err.is_none(), "server error: {:?}", p.server_err);
        assert!(p.client_err.is_none(), "client error: {:?}", p.client_err);
        assert_eq!(tlsb_conn_is_handshaking(p.server), 0);
        assert!(!p.client.is_handshaking());
        p
    }

    fn process(&mut self) -> tlsb_result {
        let mut e = new_err();
        let mut r = tlsb_conn_process(self.server, &mut e);
        if r == TLSB_HELLO_READY {
            r = (self.hook)(self.server, &mut e);
        }
        if r as u32 >= 100 {
            self.server_err = Some(ErrInfo::from(r, &e));
        }
        r
    }

    fn drain_server_plain(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            let mut n = 0;
            let r = tlsb_conn_read_plain(self.server, buf.as_mut_ptr(), buf.len(), &mut n, null_mut());
            if r != TLSB_OK {
                break;
            }
            assert!(n > 0);
            self.server_plain.extend_from_slice(&buf[..n]);
        }
    }

    fn feed_server(&mut self, bytes: &[u8]) {
        let mut off = 0;
        let mut stuck = 0;
        while off < bytes.len() && self.server_err.is_none() {
            let mut consumed = 0;
            let r = tlsb_conn_read_tls(self.server, bytes[off..].as_ptr(), bytes.len() - off, &mut consumed, null_mut());
            assert_eq!(r, TLSB_OK);
            off += consumed;
            self.process();
            self.drain_server_plain();
            stuck = if consumed == 0 { stuck + 1 } else { 0 };
            assert!(stuck < 3, "the server takes no bytes");
        }
    }

    fn feed_eof(&mut self) -> tlsb_result {
        let mut consumed = 99;
        assert_eq!(tlsb_conn_read_tls(self.server, null(), 0, &mut consumed, null_mut()), TLSB_OK);
        assert_eq!(consumed, 0);
        self.process()
    }

    fn take_server_output(&mut self) -> Vec<u8> {
        let (r, out) = drain_tls(self.server);
        assert_eq!(r, TLSB_OK);
        assert_eq!(tlsb_conn_wants_write(self.server), 0);
        self.server_wire.extend_from_slice(&out);
        out
    }

    fn feed_client(&mut self, bytes: &[u8]) {
        let mut rd = bytes;
        while !rd.is_empty() && self.client_err.is_none() {
            self.client.read_tls(&mut rd).unwrap();
            if let Err(e) = self.client.process_new_packets() {
                self.client_err = Some(e);
            }
            let mut buf = [0u8; 4096];
            loop {
                match self.client.reader().read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.client_plain.extend_from_slice(&buf[..n]),
                }
            }
        }
    }

    fn client_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.client.wants_write() {
            self.client.write_tls(&mut out).unwrap();
        }
        out
    }

    fn pump(&mut self) {
        for _ in 0..10_000 {
            let c2s = self.client_output();
            if !c2s.is_empty() {
                self.feed_server(&c2s);
            }
            let s2c = self.take_server_output();
            if !s2c.is_empty() {
                self.feed_client(&s2c);
            }
            if c2s.is_empty() && s2c.is_empty() {
                return;
            }
        }
        panic!("pump does not settle");
    }

    fn server_write(&mut self, data: &[u8]) {
        let mut n = 0;
        assert_eq!(tlsb_conn_write_plain(self.server, data.as_ptr(), data.len(), &mut n, null_mut()), TLSB_OK);
        assert_eq!(n, data.len());
    }

    fn read_plain(&mut self) -> (tlsb_result, usize, tlsb_error) {
        let mut buf = [0u8; 64];
        let mut n = 0;
        let mut e = new_err();
        let r = tlsb_conn_read_plain(self.server, buf.as_mut_ptr(), buf.len(), &mut n, &mut e);
        (r, n, e)
    }

    fn negotiated_alpn(&self) -> Vec<u8> {
        let (mut p, mut l) = (null(), 0);
        assert_eq!(tlsb_conn_alpn(self.server, &mut p, &mut l), TLSB_OK);
        unsafe { span(p, l) }.to_vec()
    }

    fn sni(&self) -> Vec<u8> {
        let (mut p, mut l) = (null(), 0);
        assert_eq!(tlsb_conn_sni(self.server, &mut p, &mut l), TLSB_OK);
        unsafe { span(p, l) }.to_vec()
    }

    fn client_sees_end_entity(&self) -> Vec<u8> {
        self.client.peer_certificates().unwrap()[0].as_ref().to_vec()
    }
}

fn exchange(p: &mut Pair) {
    p.client.writer().write_all(b"ping from client").unwrap();
    p.server_write(b"pong from server");
    p.pump();
    assert_eq!(p.server_plain, b"ping from client");
    assert_eq!(p.client_plain, b"pong from server");
}

// ---- handshakes ----------------------------------------------------------------------------

#[test]
fn tls13_handshake_exchanges_data() {
    let (_k, cfg) = rsa_config();
    let mut p = Pair::handshake(client(ClientOpts { versions: vec![&rustls::version::TLS13], ..Default::default() }), select(&cfg, b""));
    exchange(&mut p);
    assert_eq!(tlsb_conn_protocol_version(p.server), 0x0304);
    assert_eq!(s(tlsb_protocol_version_name(tlsb_conn_protocol_version(p.server))), "TLSv1.3");
    let suite = tlsb_conn_cipher_suite(p.server);
    assert_eq!(suite, u16::from(p.client.negotiated_cipher_suite().unwrap().suite()));
    assert_eq!(suite, 0x1302, "rustls's first suite, the client's order");
    assert_eq!(p.sni(), b"localhost");
    assert_eq!(p.negotiated_alpn(), b"");
    assert_eq!(tlsb_conn_peer_cert_count(p.server), 0);
    assert_eq!(p.client_sees_end_entity(), der_certs("rsa.crt")[0]);
}

#[test]
fn tls12_handshake_exchanges_data() {
    let (_k, cfg) = rsa_config();
    let mut p = Pair::handshake(
        client(ClientOpts { versions: vec![&rustls::version::TLS12], sni: "example.test", ..Default::default() }),
        select(&cfg, b""),
    );
    exchange(&mut p);
    assert_eq!(tlsb_conn_protocol_version(p.server), 0x0303);
    assert_eq!(s(tlsb_protocol_version_name(0x0303)), "TLSv1.2");
    assert_eq!(tlsb_conn_cipher_suite(p.server), 0xC030);
    assert_eq!(s(tlsb_cipher_suite_name(0xC030)), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    assert_eq!(p.sni(), b"example.test");
}

#[test]
fn alpn_is_negotiated_from_a_prebuilt_config() {
    let k = load("ecdsa-p256.crt", "ecdsa-p256.key");
    let cfg = make_config(&[], &[], &[&k], false, &[b"h2", b"http/1.1"]).unwrap();
    let cfg_ptr = cfg.0 as *const tlsb_server_config;
    let hook: Hook = Box::new(move |c, e| {
        assert_eq!(tlsb_conn_hello_alpn_count(c), 2);
        let (mut p, mut l) = (null(), 0);
        assert_eq!(tlsb_conn_hello_alpn(c, 1, &mut p, &mut l), TLSB_OK);
        assert_eq!(unsafe { span(p, l) }, b"http/1.1");
        assert_eq!(tlsb_conn_hello_alpn(c, 2, &mut p, &mut l), TLSB_ERR_INVALID);
        // Not in the config's list: refused, the hello stays ready.
        let mut e2 = new_err();
        assert_eq!(tlsb_conn_select_config(c, cfg_ptr, b"spdy/3".as_ptr(), 6, &mut e2), TLSB_ERR_INVALID);
        assert!(msg(&e2).contains("spdy/3"), "{}", msg(&e2));
        tlsb_conn_select_config(c, cfg_ptr, b"http/1.1".as_ptr(), 8, e)
    });
    let mut p = Pair::handshake(client(ClientOpts { alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()], ..Default::default() }), hook);
    assert_eq!(p.negotiated_alpn(), b"http/1.1");
    assert_eq!(p.client.alpn_protocol(), Some(&b"http/1.1"[..]));
    exchange(&mut p);
}

#[test]
fn hello_accessors_report_what_the_client_sent() {
    let (_k, cfg) = rsa_config();
    let cfg_ptr = cfg.0 as *const tlsb_server_config;
    let suites = vec![cipher_suite::TLS13_AES_128_GCM_SHA256, cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256];
    let expected_suites: Vec<u16> = suites.iter().map(|s| u16::from(s.suite())).collect();
    let schemes = vec![SignatureScheme::RSA_PSS_SHA384, SignatureScheme::RSA_PKCS1_SHA256, SignatureScheme::ECDSA_NISTP256_SHA256];
    let expected_schemes: Vec<u16> = schemes.iter().map(|s| u16::from(*s)).collect();
    let seen = Arc::new(std::sync::Mutex::new(false));
    let seen2 = seen.clone();
    let hook: Hook = Box::new(move |c, e| {
        let (mut p, mut l) = (null(), 0);
        assert_eq!(tlsb_conn_hello_sni(c, &mut p, &mut l), TLSB_OK);
        assert_eq!(unsafe { span(p, l) }, b"example.test");
        assert_eq!(tlsb_conn_hello_alpn_count(c), 1);
        let (mut a, mut n) = (null(), 0);
        assert_eq!(tlsb_conn_hello_cipher_suites(c, &mut a, &mut n), TLSB_OK);
        let got: Vec<u16> = unsafe { std::slice::from_raw_parts(a, n) }.iter().copied().filter(|s| *s != 0x00FF).collect();
        assert_eq!(got, expected_suites);
        assert_eq!(tlsb_conn_hello_signature_schemes(c, &mut a, &mut n), TLSB_OK);
        assert_eq!(unsafe { std::slice::from_raw_parts(a, n) }, &expected_schemes[..]);
        *seen2.lock().unwrap() = true;
        tlsb_conn_select_config(c, cfg_ptr, null(), 0, e)
    });
    let mut p = Pair::handshake(
        client(ClientOpts { suites, schemes: Some(schemes), alpn: vec![b"acme-tls/1".to_vec()], sni: "example.test", ..Default::default() }),
        hook,
    );
    assert!(*seen.lock().unwrap());
    assert_eq!(tlsb_conn_cipher_suite(p.server), 0x1301);
    exchange(&mut p);
}

#[test]
fn hello_accessors_before_the_hello_are_invalid() {
    let mut c = null_mut();
    assert_eq!(tlsb_conn_new_server(&mut c), TLSB_OK);
    let (mut p, mut l) = (null(), 0);
    assert_eq!(tlsb_conn_hello_sni(c, &mut p, &mut l), TLSB_ERR_INVALID);
    assert_eq!(tlsb_conn_hello_alpn_count(c), 0);
    assert_eq!(tlsb_conn_protocol_version(c), 0);
    assert_eq!(tlsb_conn_cipher_suite(c), 0);
    assert_eq!(tlsb_conn_is_handshaking(c), 1);
    assert_eq!(tlsb_conn_wants_write(c), 0);
    let mut e = new_err();
    assert_eq!(tlsb_conn_select_config(c, rsa_config().1 .0, null(), 0, &mut e), TLSB_ERR_INVALID);
    tlsb_conn_free(c);
}

#[test]
fn presented_chain_equals_configured_chain() {
    let k = load("chain.crt", "chain-leaf.key");
    assert_eq!(tlsb_certified_key_chain_len(k.0), 2);
    let expected = der_certs("chain.crt");
    for (i, want) in expected.iter().enumerate() {
        let (mut d, mut l) = (null(), 0);
        assert_eq!(tlsb_certified_key_chain_der(k.0, i, &mut d, &mut l), TLSB_OK);
        assert_eq!(unsafe { span(d, l) }, &want[..]);
    }
    let (mut d, mut l) = (null(), 0);
    assert_eq!(tlsb_certified_key_chain_der(k.0, 2, &mut d, &mut l), TLSB_ERR_INVALID);
    let cfg = make_config(&[], &[], &[&k], false, &[]).unwrap();
    let p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    let got: Vec<Vec<u8>> = p.client.peer_certificates().unwrap().iter().map(|c| c.as_ref().to_vec()).collect();
    assert_eq!(got, expected);
}

#[test]
fn version_restriction_sends_protocol_version_alert() {
    let k = load("rsa.crt", "rsa.key");
    let cfg = make_config(&[0x0304], &[], &[&k], false, &[]).unwrap();
    let mut p = Pair::new(client(ClientOpts { versions: vec![&rustls::version::TLS12], ..Default::default() }), select(&cfg, b""));
    p.pump();
    let e = p.server_err.clone().expect("server error");
    assert_eq!(e.code, TLSB_ERR_TLS);
    assert_eq!(e.alert_sent, 70);
    assert_eq!(e.alert_received, TLSB_NO_ALERT);
    assert_eq!(s(tlsb_alert_name(e.alert_sent)), "protocol_version");
    assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)));
    assert_eq!(p.server_wire, vec![0x15, 3, 3, 0, 2, 2, 70]);
    // Dead: later calls repeat the error.
    let mut e2 = new_err();
    assert_eq!(tlsb_conn_process(p.server, &mut e2), TLSB_ERR_TLS);
    assert_eq!(e2.alert_sent, 70);
}

#[test]
fn server_suite_order_wins_unless_honoring_client_order() {
    let k = load("rsa.crt", "rsa.key");
    let server_order = [0x1303, 0x1301, 0x1302];
    let cfg = make_config(&[], &server_order, &[&k], false, &[]).unwrap();
    let p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    assert_eq!(tlsb_conn_cipher_suite(p.server), 0x1303);
    let cfg = make_config(&[], &server_order, &[&k], true, &[]).unwrap();
    let p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    assert_eq!(tlsb_conn_cipher_suite(p.server), 0x1302, "the client's first (rustls default order)");
    // TLS 1.2: server order among ECDHE_RSA suites.
    let cfg = make_config(&[], &[0xCCA8, 0xC02F, 0xC030], &[&k], false, &[]).unwrap();
    let p = Pair::handshake(client(ClientOpts { versions: vec![&rustls::version::TLS12], ..Default::default() }), select(&cfg, b""));
    assert_eq!(tlsb_conn_cipher_suite(p.server), 0xCCA8);
}

#[test]
fn key_choice_follows_client_capabilities() {
    let rsa = load("rsa.crt", "rsa.key");
    let ec = load("ecdsa-p256.crt", "ecdsa-p256.key");
    let rsa_der = der_certs("rsa.crt")[0].clone();
    let ec_der = der_certs("ecdsa-p256.crt")[0].clone();
    for order in [[&rsa, &ec], [&ec, &rsa]] {
        let cfg = make_config(&[], &[], &order, false, &[]).unwrap();
        let ecdsa_only = Some(vec![SignatureScheme::ECDSA_NISTP256_SHA256]);
        let p = Pair::handshake(client(ClientOpts { schemes: ecdsa_only, ..Default::default() }), select(&cfg, b""));
        assert_eq!(p.client_sees_end_entity(), ec_der);
        let rsa_only = Some(vec![SignatureScheme::RSA_PSS_SHA256, SignatureScheme::RSA_PKCS1_SHA256]);
        let p = Pair::handshake(client(ClientOpts { schemes: rsa_only, ..Default::default() }), select(&cfg, b""));
        assert_eq!(p.client_sees_end_entity(), rsa_der);
        // Both possible: the first configured wins.
        let p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
        assert_eq!(p.client_sees_end_entity(), if order[0].0 == rsa.0 { rsa_der.clone() } else { ec_der.clone() });
        // A TLS 1.2 client offering only ECDHE_ECDSA suites gets the ECDSA key.
        let p = Pair::handshake(
            client(ClientOpts {
                versions: vec![&rustls::version::TLS12],
                suites: vec![cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256],
                ..Default::default()
            }),
            select(&cfg, b""),
        );
        assert_eq!(p.client_sees_end_entity(), ec_der);
        assert_eq!(tlsb_conn_cipher_suite(p.server), 0xC02B);
    }
    // Only an RSA key, client can only verify ECDSA: no certificate. rustls 0.23 refuses with
    // access_denied (0.20: handshake_failure); error.alert_sent is the alert on the wire.
    let cfg = make_config(&[], &[], &[&rsa], false, &[]).unwrap();
    let mut p = Pair::new(client(ClientOpts { schemes: Some(vec![SignatureScheme::ECDSA_NISTP256_SHA256]), ..Default::default() }), select(&cfg, b""));
    p.pump();
    let e = p.server_err.clone().unwrap();
    assert!(e.message.contains("no configured certificate"), "{}", e.message);
    assert_eq!(p.server_wire, vec![0x15, 3, 3, 0, 2, 2, e.alert_sent as u8], "alert_sent is not the alert sent");
    assert_eq!((e.code, e.alert_sent), (TLSB_ERR_TLS, 49));
    assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(AlertDescription::AccessDenied)));
}

#[test]
fn other_key_types_handshake() {
    for (cert, key, alg) in [
        ("ecdsa-p384.crt", "ecdsa-p384.key", "ECDSA"),
        ("ecdsa-p384.crt", "ecdsa-p384.sec1.key", "ECDSA"),
        ("ecdsa-p256.crt", "ecdsa-p256.sec1.key", "ECDSA"),
        ("ed25519.crt", "ed25519.key", "Ed25519"),
        ("rsa.crt", "rsa.pkcs1.key", "RSA"),
    ] {
        let k = load(cert, key);
        assert_eq!(s(tlsb_certified_key_algorithm(k.0)), alg);
        let cfg = make_config(&[], &[], &[&k], false, &[]).unwrap();
        for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let mut p = Pair::handshake(client(ClientOpts { versions: vec![v], ..Default::default() }), select(&cfg, b""));
            assert_eq!(p.client_sees_end_entity(), der_certs(cert)[0]);
            exchange(&mut p);
        }
    }
    // Key and certificate in one PEM file.
    let mut both = data("rsa.crt");
    both.extend_from_slice(&data("rsa.key"));
    let k = load_pem(&both, &both).unwrap();
    assert_eq!(s(tlsb_certified_key_algorithm(k.0)), "RSA");
}

#[test]
fn reject_sends_the_alert() {
    let hook: Hook = Box::new(|c, e| tlsb_conn_reject(c, 112, e));
    let mut p = Pair::new(client(ClientOpts::default()), hook);
    p.pump();
    assert!(p.server_err.is_none());
    assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(AlertDescription::UnrecognisedName)));
    assert_eq!(p.server_wire, vec![0x15, 3, 3, 0, 2, 2, 112]);
    let mut e = new_err();
    assert_eq!(tlsb_conn_process(p.server, &mut e), TLSB_ERR_TLS);
    assert_eq!(e.alert_sent, 112);
    assert_eq!(msg(&e), "the ClientHello was rejected with alert unrecognized_name");
    assert_eq!(tlsb_conn_reject(p.server, 1000, null_mut()), TLSB_ERR_TLS);
}

#[test]
fn reject_out_of_range_alert_is_invalid() {
    let mut c = null_mut();
    tlsb_conn_new_server(&mut c);
    assert_eq!(tlsb_conn_reject(c, 256, null_mut()), TLSB_ERR_INVALID);
    tlsb_conn_free(c);
}

/// Feeds `bytes` (then EOF if `eof`) to a fresh server and returns the error and wire output.
fn feed_raw(bytes: &[u8], eof: bool) -> (ErrInfo, Vec<u8>) {
    let (_k, cfg) = rsa_config();
    let mut p = Pair::new(client(ClientOpts::default()), select(&cfg, b""));
    p.feed_server(bytes);
    if eof && p.server_err.is_none() {
        assert_eq!(p.feed_eof(), TLSB_ERR_TLS);
    }
    let out = p.take_server_output();
    (p.server_err.clone().expect("an error"), out)
}

#[test]
fn garbage_bytes_fail_with_decode_error() {
    let (e, out) = feed_raw(b"\x99\x98 this is not TLS at all \x00\x01", false);
    assert_eq!((e.code, e.alert_sent), (TLSB_ERR_TLS, 50));
    assert_eq!(
        e.message,
        "reading the ClientHello failed: the client sent data that is not TLS (received corrupt message of type InvalidContentType)"
    );
    assert_eq!(out, vec![0x15, 3, 3, 0, 2, 2, 50]);
    // A handshake record whose message is not a ClientHello.
    let (e, out) = feed_raw(&[0x16, 3, 1, 0, 4, 2, 0, 0, 0], false);
    assert_eq!(e.code, TLSB_ERR_TLS);
    assert!(e.alert_sent == 10 || e.alert_sent == 50, "{:?}", e);
    assert_eq!(out, vec![0x15, 3, 3, 0, 2, 2, e.alert_sent as u8]);
}

#[test]
fn plain_http_is_named() {
    let (e, out) = feed_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", false);
    assert_eq!(e.code, TLSB_ERR_TLS);
    assert_eq!(e.message, "the client spoke plain HTTP to a TLS port (it sent an HTTP GET request instead of a TLS ClientHello)");
    assert_eq!(out.len(), 7);
}

#[test]
fn truncated_hello_then_eof_fails() {
    let mut c = client(ClientOpts::default());
    let mut hello = Vec::new();
    c.write_tls(&mut hello).unwrap();
    let (e, out) = feed_raw(&hello[..hello.len() / 2], true);
    assert_eq!(e.code, TLSB_ERR_TLS);
    assert_eq!(e.message, "connection closed before the ClientHello was complete");
    assert_eq!(e.alert_sent, TLSB_NO_ALERT);
    assert!(out.is_empty());
    let (e, _) = feed_raw(b"", true);
    assert_eq!(e.message, "connection closed before any TLS data was received");
}

#[test]
fn eof_mid_handshake_fails() {
    let (_k, cfg) = rsa_config();
    let mut p = Pair::new(client(ClientOpts::default()), select(&cfg, b""));
    let hello = p.client_output();
    p.feed_server(&hello);
    assert!(p.server_err.is_none());
    assert_eq!(tlsb_conn_wants_write(p.server), 1);
    assert_eq!(tlsb_conn_protocol_version(p.server), 0x0304);
    assert_eq!(p.feed_eof(), TLSB_ERR_TLS);
    assert_eq!(p.server_err.clone().unwrap().message, "connection closed during the handshake");
}

#[test]
fn close_notify_reads_as_closed() {
    let (_k, cfg) = rsa_config();
    let mut p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    p.client.writer().write_all(b"last words").unwrap();
    p.client.send_close_notify();
    p.pump();
    assert_eq!(p.server_plain, b"last words");
    let (r, n, _) = p.read_plain();
    assert_eq!((r, n), (TLSB_CLOSED, 0));
    // The transport closing afterwards changes nothing.
    assert_eq!(p.feed_eof(), TLSB_OK);
    assert_eq!(p.read_plain().0, TLSB_CLOSED);
    // Our close_notify goes out once.
    assert_eq!(tlsb_conn_send_close_notify(p.server), TLSB_OK);
    let first = p.take_server_output();
    assert!(!first.is_empty());
    assert_eq!(tlsb_conn_send_close_notify(p.server), TLSB_OK);
    assert!(p.take_server_output().is_empty());
    p.feed_client(&first);
    assert!(p.client_err.is_none());
    let mut buf = [0u8; 8];
    assert_eq!(p.client.reader().read(&mut buf).unwrap(), 0, "client saw close_notify");
}

#[test]
fn eof_without_close_notify_is_an_error() {
    let (_k, cfg) = rsa_config();
    let mut p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    assert_eq!(p.read_plain().0, TLSB_WOULD_BLOCK);
    assert_eq!(p.feed_eof(), TLSB_OK);
    let (r, _, e) = p.read_plain();
    assert_eq!(r, TLSB_ERR_TLS);
    assert_eq!(msg(&e), "peer closed the connection without close_notify");
    assert_eq!(e.alert_sent, TLSB_NO_ALERT);
}

#[test]
fn large_plaintext_round_trips() {
    let (_k, cfg) = rsa_config();
    let mut p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    p.client.set_buffer_limit(None);
    let big: Vec<u8> = (0..(1usize << 20)).map(|i| (i * 7 + i / 251) as u8).collect();
    p.client.writer().write_all(&big).unwrap();
    p.server_write(&big);
    p.pump();
    assert!(p.server_plain == big, "server received {} bytes", p.server_plain.len());
    assert!(p.client_plain == big, "client received {} bytes", p.client_plain.len());
}

#[test]
fn plaintext_written_before_the_handshake_is_sent_after_it() {
    let (_k, cfg) = rsa_config();
    let mut p = Pair::new(client(ClientOpts::default()), select(&cfg, b""));
    p.server_write(b"early");
    p.pump();
    assert!(p.server_err.is_none() && p.client_err.is_none());
    assert_eq!(p.client_plain, b"early");
}

#[test]
fn client_alert_is_reported_as_received() {
    // The client does not trust the expired certificate: it sends an alert during the handshake.
    let k = load("expired.crt", "rsa.key");
    let cfg = make_config(&[], &[], &[&k], false, &[]).unwrap();
    let mut p = Pair::new(client(ClientOpts::default()), select(&cfg, b""));
    p.pump();
    assert!(p.client_err.is_some());
    let e = p.server_err.clone().expect("server saw the alert");
    assert_eq!(e.code, TLSB_ERR_TLS);
    assert_eq!(e.alert_sent, TLSB_NO_ALERT);
    // rustls 0.23 names the reason (0.20 sent bad_certificate for every refusal).
    use rustls::CertificateError::{Expired, ExpiredContext};
    assert!(matches!(p.client_err, Some(rustls::Error::InvalidCertificate(Expired | ExpiredContext { .. }))), "{:?}", p.client_err);
    assert_eq!(s(tlsb_alert_name(e.alert_received)), "certificate_expired");
    assert!(e.message.contains("the client sent a fatal alert: certificate_expired"), "{}", e.message);
}

// ---- certified keys and configs --------------------------------------------------------------

fn key_err(cert: &[u8], key: &[u8]) -> ErrInfo {
    load_pem(cert, key).err().expect("an error")
}

#[test]
fn certified_key_errors() {
    let rsa_crt = data("rsa.crt");
    let e = key_err(&rsa_crt, &data("other-rsa.key"));
    assert_eq!((e.code, e.message.as_str()), (TLSB_ERR_KEY_MISMATCH, "the private key does not match the certificate"));
    let e = key_err(&data("ecdsa-p256.crt"), &data("ecdsa-p384.key"));
    assert_eq!(e.code, TLSB_ERR_KEY_MISMATCH);
    let e = key_err(&data("ecdsa-p256.crt"), &data("rsa.key"));
    assert_eq!(e.code, TLSB_ERR_KEY_MISMATCH);
    for enc in ["encrypted.key", "encrypted-legacy.key"] {
        let e = key_err(&rsa_crt, &data(enc));
        assert_eq!(e.code, TLSB_ERR_PEM);
        assert_eq!(
            e.message,
            "the private key is encrypted; mod_tls needs an unencrypted key (decrypt it with: openssl pkey -in KEY -out KEY.plain)"
        );
    }
    let e = key_err(&data("rsa1024.crt"), &data("rsa1024.key"));
    assert_eq!(e.code, TLSB_ERR_KEY);
    assert!(e.message.contains("RSA 2048-4096 bits, ECDSA P-256/P-384, Ed25519"), "{}", e.message);
    let e = key_err(&data("rsa.key"), &data("rsa.key"));
    assert_eq!((e.code, e.message.as_str()), (TLSB_ERR_PEM, "no certificate found in PEM data"));
    let e = key_err(&rsa_crt, &rsa_crt);
    assert_eq!((e.code, e.message.as_str()), (TLSB_ERR_PEM, "no private key found"));
    let e = key_err(b"\xff\xfe\x00 definitely not PEM", &data("rsa.key"));
    assert_eq!(e.code, TLSB_ERR_PEM);
    let e = key_err(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", &data("rsa.key"));
    assert_eq!(e.code, TLSB_ERR_PEM);
    assert!(e.message.starts_with("invalid PEM data in the certificate file"), "{}", e.message);
    // Valid base64, not a certificate.
    let e = key_err(b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n", &data("rsa.key"));
    assert_eq!(e.code, TLSB_ERR_PEM, "{}", e.message);
    assert!(e.message.starts_with("the certificate could not be parsed"), "{}", e.message);
    let e = key_err(&rsa_crt, b"");
    assert_eq!(e.code, TLSB_ERR_PEM);
}

#[test]
fn config_errors() {
    let k = load("rsa.crt", "rsa.key");
    let e = make_config(&[], &[0x1301, 0x0035], &[&k], false, &[]).err().unwrap();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    assert!(e.message.contains("0x0035"), "{}", e.message);
    let e = make_config(&[0x0303], &[0x1301], &[&k], false, &[]).err().unwrap();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    let e = make_config(&[0x0302], &[], &[&k], false, &[]).err().unwrap();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    let e = make_config(&[], &[], &[], false, &[]).err().unwrap();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    let e = make_config(&[], &[], &[&k], false, &[b""]).err().unwrap();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    // TLS 1.2 only with default suites works and negotiates 1.2 with a 1.3-capable client.
    let cfg = make_config(&[0x0303], &[], &[&k], false, &[]).unwrap();
    let p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    assert_eq!(tlsb_conn_protocol_version(p.server), 0x0303);
}

#[test]
fn keys_are_shared_by_configs() {
    let k = load("rsa.crt", "rsa.key");
    let cfg = make_config(&[], &[], &[&k], false, &[]).unwrap();
    drop(k);
    let p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
    assert_eq!(p.client_sees_end_entity(), der_certs("rsa.crt")[0]);
    // The connection keeps the config alive.
    let (_k2, cfg2) = rsa_config();
    let mut p = Pair::new(client(ClientOpts::default()), select(&cfg2, b""));
    let hello = p.client_output();
    p.feed_server(&hello);
    drop(cfg2);
    p.pump();
    assert!(p.server_err.is_none() && p.client_err.is_none());
    exchange(&mut p);
}

// ---- names -----------------------------------------------------------------------------------

#[test]
fn static_names() {
    assert_eq!(s(tlsb_result_name(103)), "TLSB_ERR_TLS");
    assert_eq!(s(tlsb_result_name(1)), "TLSB_HELLO_READY");
    assert_eq!(s(tlsb_result_name(7)), "unknown");
    assert_eq!(s(tlsb_alert_name(112)), "unrecognized_name");
    assert_eq!(s(tlsb_alert_name(120)), "no_application_protocol");
    assert_eq!(s(tlsb_alert_name(116)), "certificate_required");
    assert_eq!(s(tlsb_alert_name(0)), "close_notify");
    assert_eq!(s(tlsb_alert_name(255)), "unknown");
    assert_eq!(s(tlsb_cipher_suite_name(0x1301)), "TLS_AES_128_GCM_SHA256");
    assert_eq!(s(tlsb_cipher_suite_name(0x0035)), "unknown");
    assert_eq!(s(tlsb_protocol_version_name(0x0301)), "unknown");
    assert_eq!(s(tlsb_rustls_version()), format!("rustls/{}", locked_version("rustls")));
    assert!(s(tlsb_rustls_version()).starts_with("rustls/0.23."), "{}", s(tlsb_rustls_version()));
    let (mut p, mut n) = (null(), 0);
    assert_eq!(tlsb_supported_cipher_suites(&mut p, &mut n), TLSB_OK);
    let ids = unsafe { std::slice::from_raw_parts(p, n) };
    let want: Vec<u16> = rustls::crypto::ring::ALL_CIPHER_SUITES.iter().map(|s| u16::from(s.suite())).collect();
    assert_eq!(ids, &want[..]);
    for id in ids {
        assert_ne!(s(tlsb_cipher_suite_name(*id)), "unknown");
    }
    // Every alert rustls knows has a name.
    for a in 0..=255u8 {
        let d = AlertDescription::from(a);
        if !matches!(d, AlertDescription::Unknown(_)) {
            assert_ne!(s(tlsb_alert_name(a as u16)), "unknown", "{:?}", d);
        }
    }
}

/// The version of `package` that Cargo.lock pins (the one linked).
fn locked_version(package: &str) -> String {
    let path = format!("{}/Cargo.lock", env!("CARGO_MANIFEST_DIR"));
    let lock = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {}", path, e));
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{}\"", package) {
            let v = lines.next().unwrap().trim();
            return v.strip_prefix("version = \"").unwrap().trim_end_matches('"').to_string();
        }
    }
    panic!("{} is not in Cargo.lock", package)
}

/// The static lookups answer through their panic guard: every value, including the fallbacks.
#[test]
fn guarded_lookups_return_their_values() {
    for (r, name) in [
        (TLSB_OK, "TLSB_OK"),
        (TLSB_WOULD_BLOCK, "TLSB_WOULD_BLOCK"),
        (TLSB_CLOSED, "TLSB_CLOSED"),
        (TLSB_ERR_NULL, "TLSB_ERR_NULL"),
        (TLSB_ERR_INVALID, "TLSB_ERR_INVALID"),
        (TLSB_ERR_PANIC, "TLSB_ERR_PANIC"),
        (TLSB_ERR_PEM, "TLSB_ERR_PEM"),
        (TLSB_ERR_KEY, "TLSB_ERR_KEY"),
        (TLSB_ERR_KEY_MISMATCH, "TLSB_ERR_KEY_MISMATCH"),
        (TLSB_ERR_CONFIG, "TLSB_ERR_CONFIG"),
        (TLSB_ERR_BUFFER, "TLSB_ERR_BUFFER"),
        (TLSB_ERR_IO, "TLSB_ERR_IO"),
    ] {
        assert_eq!(s(tlsb_result_name(r as u32)), name);
    }
    assert_eq!(s(tlsb_result_name(u32::MAX)), "unknown");
    assert_eq!(s(tlsb_alert_name(44)), "certificate_revoked");
    assert_eq!(s(tlsb_alert_name(49)), "access_denied");
    assert_eq!(s(tlsb_alert_name(TLSB_NO_ALERT)), "none");
    assert_eq!(s(tlsb_alert_name(256)), "unknown");
    assert_eq!(s(tlsb_cipher_suite_name(0x1303)), "TLS_CHACHA20_POLY1305_SHA256");
    assert_eq!(s(tlsb_cipher_suite_name(0xCCA9)), "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
    assert_eq!(s(tlsb_cipher_suite_name(0xFFFF)), "unknown");
    assert_eq!(s(tlsb_protocol_version_name(0x0304)), "TLSv1.3");
    assert_eq!(s(tlsb_protocol_version_name(0)), "unknown");
    // The same static string every time.
    assert_eq!(tlsb_rustls_version(), tlsb_rustls_version());
    assert_eq!(s(tlsb_rustls_version()), format!("rustls/{}", locked_version("rustls")));
    assert_eq!(tlsb_cipher_suite_key_bits(0x1302), 256);
    assert_eq!(tlsb_cipher_suite_key_bits(0xC02F), 128);
    assert_eq!(tlsb_cipher_suite_key_bits(0xFFFF), 0);
    for (g, name) in [(0x11EC, "X25519MLKEM768"), (0x001D, "x25519"), (0x0017, "secp256r1"), (0x0018, "secp384r1")] {
        assert_eq!(s(tlsb_kx_group_name(g)), name);
    }
    assert_eq!(s(tlsb_kx_group_name(0x0019)), "unknown");
    assert_eq!(s(tlsb_kx_group_name(0)), "unknown");
    // Every suite rustls implements has a key size and a name.
    for suite in rustls::crypto::ring::ALL_CIPHER_SUITES {
        let id = u16::from(suite.suite());
        assert!(tlsb_cipher_suite_key_bits(id) == 128 || tlsb_cipher_suite_key_bits(id) == 256, "{:04x}", id);
        let name = s(tlsb_cipher_suite_name(id));
        assert!(name.starts_with("TLS_") && name.ends_with(if id == 0x1302 || id == 0xC02C || id == 0xC030 { "_SHA384" } else { "_SHA256" }), "{:04x}: {}", id, name);
    }
}

#[test]
fn long_messages_are_truncated() {
    let mut e = new_err();
    report(&mut e, Failure::new(TLSB_ERR_TLS, "é".repeat(300)));
    let m = msg(&e);
    assert!(m.len() <= 255 && m.len() >= 250 && m.chars().all(|c| c == 'é'));
}

// ---- NULL and panics -------------------------------------------------------------------------

#[test]
fn null_arguments_are_refused() {
    let (k, cfg) = rsa_config();
    let mut conn = null_mut();
    assert_eq!(tlsb_conn_new_server(&mut conn), TLSB_OK);
    let (mut p, mut l, mut n) = (null(), 0usize, 0usize);
    let mut p16: *const u16 = null();
    let mut buf = [0u8; 16];
    let mut e = new_err();
    let pem = data("rsa.crt");
    let mut kout = null_mut();
    let mut cout = null_mut();

    assert_eq!(tlsb_supported_cipher_suites(null_mut(), &mut n), TLSB_ERR_NULL);
    assert_eq!(tlsb_supported_cipher_suites(&mut p16, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_certified_key_new(null(), 0, pem.as_ptr(), pem.len(), &mut kout, &mut e), TLSB_ERR_NULL);
    assert_eq!(e.code, TLSB_ERR_NULL as u32);
    assert!(msg(&e).contains("cert_pem"));
    assert_eq!(tlsb_certified_key_new(pem.as_ptr(), pem.len(), null(), 5, &mut kout, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_certified_key_new(pem.as_ptr(), pem.len(), pem.as_ptr(), pem.len(), null_mut(), null_mut()), TLSB_ERR_NULL);
    assert!(kout.is_null());
    tlsb_certified_key_free(null_mut());
    assert_eq!(tlsb_certified_key_chain_len(null()), 0);
    assert_eq!(tlsb_certified_key_chain_der(null(), 0, &mut p, &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_certified_key_chain_der(k.0, 0, null_mut(), &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_certified_key_chain_der(k.0, 0, &mut p, null_mut()), TLSB_ERR_NULL);
    assert_eq!(s(tlsb_certified_key_algorithm(null())), "unknown");
    assert_eq!(tlsb_server_config_new(null(), &mut cout, &mut e), TLSB_ERR_NULL);
    let params = tlsb_server_config_params {
        versions: null(), versions_len: 0, suites: null(), suites_len: 0, groups: null(), groups_len: 0,
        keys: null(), keys_len: 1,
        honor_client_order: 0, alpn: null(), alpn_lens: null(), alpn_len: 0, client_verifier: null(),
        session_store: null(), no_session_cache: 0, ticket_keys: null(),
        session_scope: null(), session_scope_len: 0,
    };
    assert_eq!(tlsb_server_config_new(&params, &mut cout, &mut e), TLSB_ERR_NULL);
    let nullkey: *const tlsb_certified_key = null();
    let params2 = tlsb_server_config_params { keys: &nullkey, ..params };
    assert_eq!(tlsb_server_config_new(&params2, &mut cout, &mut e), TLSB_ERR_NULL);
    let kp = k.0 as *const tlsb_certified_key;
    let params3 = tlsb_server_config_params { keys: &kp, alpn_len: 1, ..params };
    assert_eq!(tlsb_server_config_new(&params3, &mut cout, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_server_config_new(&tlsb_server_config_params { keys: &kp, ..params }, null_mut(), &mut e), TLSB_ERR_NULL);
    assert!(cout.is_null());
    tlsb_server_config_free(null_mut());

    assert_eq!(tlsb_conn_new_server(null_mut()), TLSB_ERR_NULL);
    tlsb_conn_free(null_mut());
    assert_eq!(tlsb_conn_read_tls(null_mut(), buf.as_ptr(), 1, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_read_tls(conn, null(), 1, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_read_tls(conn, buf.as_ptr(), 1, null_mut(), &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_process(null_mut(), &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_sni(null(), &mut p, &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_sni(conn, null_mut(), &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_sni(conn, &mut p, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_alpn_count(null()), 0);
    assert_eq!(tlsb_conn_hello_alpn(null(), 0, &mut p, &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_alpn(conn, 0, null_mut(), &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_alpn(conn, 0, &mut p, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_signature_schemes(null(), &mut p16, &mut n), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_signature_schemes(conn, null_mut(), &mut n), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_signature_schemes(conn, &mut p16, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_cipher_suites(null(), &mut p16, &mut n), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_cipher_suites(conn, null_mut(), &mut n), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_hello_cipher_suites(conn, &mut p16, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_select_config(null_mut(), cfg.0, null(), 0, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_select_config(conn, null(), null(), 0, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_select_config(conn, cfg.0, null(), 3, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_reject(null_mut(), 112, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_wants_write(null()), 0);
    let mut sink = Sink::default();
    let ctx = &mut sink as *mut Sink as *mut c_void;
    assert_eq!(tlsb_conn_send_tls(null_mut(), Some(record_sink), ctx, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_send_tls(conn, None, ctx, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_send_tls(conn, Some(record_sink), ctx, null_mut(), &mut e), TLSB_ERR_NULL);
    assert_eq!(sink.calls, 0, "no batch is offered on a NULL argument");
    assert_eq!(tlsb_conn_is_handshaking(null()), 0);
    assert_eq!(tlsb_conn_read_plain(null_mut(), buf.as_mut_ptr(), 16, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_read_plain(conn, null_mut(), 16, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_read_plain(conn, buf.as_mut_ptr(), 16, null_mut(), &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_write_plain(null_mut(), buf.as_ptr(), 16, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_write_plain(conn, null(), 16, &mut n, &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_write_plain(conn, buf.as_ptr(), 16, null_mut(), &mut e), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_send_close_notify(null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_protocol_version(null()), 0);
    assert_eq!(tlsb_conn_cipher_suite(null()), 0);
    assert_eq!(tlsb_conn_alpn(null(), &mut p, &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_alpn(conn, null_mut(), &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_alpn(conn, &mut p, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_sni(null(), &mut p, &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_sni(conn, null_mut(), &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_sni(conn, &mut p, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_peer_cert_count(null()), 0);
    assert_eq!(tlsb_conn_peer_cert(null(), 0, &mut p, &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_peer_cert(conn, 0, null_mut(), &mut l), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_peer_cert(conn, 0, &mut p, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_peer_cert(conn, 0, &mut p, &mut l), TLSB_ERR_INVALID);

    // None of that hurt the connection.
    let mut c = client(ClientOpts::default());
    let mut hello = Vec::new();
    c.write_tls(&mut hello).unwrap();
    assert_eq!(tlsb_conn_read_tls(conn, hello.as_ptr(), hello.len(), &mut n, &mut e), TLSB_OK);
    assert_eq!(n, hello.len());
    assert_eq!(tlsb_conn_process(conn, &mut e), TLSB_HELLO_READY);
    tlsb_conn_free(conn);
}

#[test]
fn panic_is_caught_and_poisons_the_handle() {
    let mut conn = null_mut();
    assert_eq!(tlsb_conn_new_server(&mut conn), TLSB_OK);
    let mut e = new_err();
    PANIC_IN_PROCESS.with(|p| p.set(true));
    let r = tlsb_conn_process(conn, &mut e);
    PANIC_IN_PROCESS.with(|p| p.set(false));
    assert_eq!(r, TLSB_ERR_PANIC);
    assert_eq!(e.code, TLSB_ERR_PANIC as u32);
    assert!(msg(&e).contains("forced panic (test hook)"), "{}", msg(&e));
    // Poisoned: every later call fails.
    let mut e = new_err();
    assert_eq!(tlsb_conn_process(conn, &mut e), TLSB_ERR_PANIC);
    assert!(msg(&e).contains("poisoned"));
    let mut n = 0;
    assert_eq!(tlsb_conn_read_tls(conn, b"x".as_ptr(), 1, &mut n, null_mut()), TLSB_ERR_PANIC);
    assert_eq!(tlsb_conn_is_handshaking(conn), 0);
    assert_eq!(tlsb_conn_hello_alpn_count(conn), 0);
    let (mut p, mut l) = (null(), 0);
    assert_eq!(tlsb_conn_sni(conn, &mut p, &mut l), TLSB_ERR_PANIC);
    tlsb_conn_free(conn);
    // Other handles are unaffected.
    let mut conn2 = null_mut();
    assert_eq!(tlsb_conn_new_server(&mut conn2), TLSB_OK);
    assert_eq!(tlsb_conn_process(conn2, null_mut()), TLSB_OK);
    tlsb_conn_free(conn2);
}

// ---- tlsb_conn_send_tls: lending the queued records ---------------------------------------------

/// Distinguishable plaintext of `n` bytes.
fn plaintext(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + seed) % 251) as u8).collect()
}

/// Asserts that a lent batch holds at most 64 slices, each exactly one whole application-data
/// record (its header's length field equals the slice's length - 5).
fn assert_whole_records(batch: &[Vec<u8>]) {
    assert!(!batch.is_empty(), "an empty batch was lent");
    assert!(batch.len() <= 64, "a batch of {} slices", batch.len());
    for rec in batch {
        assert!(rec.len() > 5, "a slice of {} bytes is no record", rec.len());
        assert_eq!(rec[0], 0x17, "not an application-data record");
        assert_eq!(&rec[1..3], &[3, 3]);
        assert_eq!(u16::from_be_bytes([rec[3], rec[4]]) as usize, rec.len() - 5, "the slice is not one whole record");
    }
}

/// Queues 100 KiB written at once (full-size records) then 100 KiB in 512-byte writes (one small
/// record each, 200 of them: more than a batch holds). Returns the plaintext.
fn queue_200k(p: &mut Pair) -> Vec<u8> {
    let big = plaintext(100 * 1024, 1);
    p.server_write(&big);
    let small = plaintext(100 * 1024, 2);
    for chunk in small.chunks(512) {
        p.server_write(chunk);
    }
    [big, small].concat()
}

#[test]
fn send_tls_lends_whole_records() {
    let (_k, cfg) = rsa_config();
    for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let mut p = Pair::handshake(client(ClientOpts { versions: vec![v], ..Default::default() }), select(&cfg, b""));
        let want = queue_200k(&mut p);
        assert_ne!(tlsb_conn_wants_write(p.server), 0);
        let mut sink = Sink::default();
        let (r, sent, e) = sink.send(p.server);
        assert_eq!(r, TLSB_OK, "{}", msg(&e));
        assert_eq!(tlsb_conn_wants_write(p.server), 0);
        let wire = sink.bytes();
        assert_eq!(sent, wire.len());
        assert_eq!(sink.calls, sink.accepted.len());
        for batch in &sink.accepted {
            assert_whole_records(batch);
        }
        let records: usize = sink.accepted.iter().map(Vec::len).sum();
        assert!(records >= 200 + 7, "{} records", records);
        assert!(sink.accepted.iter().any(|b| b.len() == 64), "no full batch of 64 records");
        assert!(sink.accepted.len() >= 4, "{} batches for {} records", sink.accepted.len(), records);
        // Nothing more is lent once all was taken.
        let mut again = Sink::default();
        assert_eq!(again.send(p.server).0, TLSB_OK);
        assert_eq!(again.calls, 0);
        // The client decrypts all of it, in order.
        p.feed_client(&wire);
        assert!(p.client_err.is_none(), "{:?}", p.client_err);
        assert_eq!(p.client_plain.len(), want.len());
        assert!(p.client_plain == want, "the client decrypted other bytes");
    }
}

#[test]
fn send_tls_refused_batch_stays_queued() {
    let (_k, cfg) = rsa_config();
    // Refusing the first batch, and refusing the second after the first was accepted.
    for refuse_from in [0, 1] {
        let mut p = Pair::handshake(client(ClientOpts::default()), select(&cfg, b""));
        let want = queue_200k(&mut p);
        let mut first = Sink::refusing_from(refuse_from);
        let (r, _, e) = first.send(p.server);
        assert_eq!(r, TLSB_ERR_IO);
        assert_eq!(e.code, TLSB_ERR_IO as u32);
        assert_eq!(msg(&e), "the transport refused the TLS bytes");
        assert_eq!(first.calls, refuse_from + 1, "send_tls went on after a refusal");
        assert_eq!(first.accepted.len(), refuse_from);
        assert_eq!(first.refused.len(), 1);
        assert_whole_records(&first.refused[0]);
        assert_ne!(tlsb_conn_wants_write(p.server), 0, "the refused batch was dropped");
        let mut second = Sink::default();
        let (r, sent, _) = second.send(p.server);
        assert_eq!(r, TLSB_OK);
        assert_eq!(sent, second.bytes().len());
        assert_eq!(tlsb_conn_wants_write(p.server), 0);
        // The refused batch comes again, first and unchanged.
        assert!(second.accepted[0] == first.refused[0], "the refused batch changed");
        // Accepted bytes, once each: the client decrypts exactly the plaintext.
        let wire = [first.bytes(), second.bytes()].concat();
        p.feed_client(&wire);
        assert!(p.client_err.is_none(), "{:?}", p.client_err);
        assert_eq!(p.client_plain.len(), want.len());
        assert!(p.client_plain == want, "bytes were lost or duplicated");
        // The connection still works.
        p.client_plain.clear();
        exchange(&mut p);
    }
}

#[test]
fn send_tls_lends_the_queued_alert() {
    let hook: Hook = Box::new(|c, e| tlsb_conn_reject(c, 112, e));
    let mut p = Pair::new(client(ClientOpts::default()), hook);
    let hello = p.client_output();
    p.feed_server(&hello);
    assert!(p.server_err.is_none());
    assert_eq!(tlsb_conn_wants_write(p.server), 1);
    let alert = vec![0x15, 3, 3, 0, 2, 2, 112];
    // Refused: it stays queued.
    let mut refusing = Sink::refusing_from(0);
    let (r, _, e) = refusing.send(p.server);
    assert_eq!(r, TLSB_ERR_IO);
    assert_eq!(e.code, TLSB_ERR_IO as u32);
    assert_eq!(refusing.refused, vec![vec![alert.clone()]]);
    assert_eq!(tlsb_conn_wants_write(p.server), 1);
    // Accepted: lent as one slice, then gone.
    let mut sink = Sink::default();
    let (r, sent, _) = sink.send(p.server);
    assert_eq!((r, sent), (TLSB_OK, alert.len()));
    assert_eq!(sink.accepted, vec![vec![alert.clone()]]);
    assert_eq!(tlsb_conn_wants_write(p.server), 0);
    let mut again = Sink::default();
    let (r, sent, _) = again.send(p.server);
    assert_eq!((r, sent, again.calls), (TLSB_OK, 0, 0));
    p.feed_client(&sink.bytes());
    assert_eq!(p.client_err, Some(rustls::Error::AlertReceived(AlertDescription::UnrecognisedName)));
}

/// The ctx of `reentering_sink`: the connection whose records it is lent, and what its calls back
/// into that connection returned.
struct Reentry {
    conn: *mut tlsb_conn,
    sink: Sink,
    /// (result, error code, message) of tlsb_conn_process, per batch.
    process: Vec<(tlsb_result, u32, String)>,
    /// (result, *consumed, error code, message) of tlsb_conn_read_tls, per batch.
    read_tls: Vec<(tlsb_result, usize, u32, String)>,
    /// tlsb_conn_wants_write and tlsb_conn_protocol_version, per batch.
    wants_write: Vec<c_int>,
    version: Vec<u16>,
    /// (result, error code, batches offered to its sink) of a nested tlsb_conn_send_tls.
    nested_send: Vec<(tlsb_result, u32, usize)>,
}

/// A sink that calls back into the connection it is lending from (which the header forbids):
/// tlsb_conn_process and tlsb_conn_read_tls (3 bytes of a record header, which would corrupt the
/// stream if they were taken), two value queries and a nested tlsb_conn_send_tls; then it records
/// the batch as `record_sink`.
unsafe extern "C" fn reentering_sink(ctx: *mut c_void, batch: *const tlsb_slice, count: usize) -> c_int {
    let r = &mut *(ctx as *mut Reentry);
    let mut e = new_err();
    let code = tlsb_conn_process(r.conn, &mut e);
    r.process.push((code, e.code, msg(&e)));
    let mut e = new_err();
    let mut consumed = 77;
    let code = tlsb_conn_read_tls(r.conn, b"\x17\x03\x03".as_ptr(), 3, &mut consumed, &mut e);
    r.read_tls.push((code, consumed, e.code, msg(&e)));
    r.wants_write.push(tlsb_conn_wants_write(r.conn));
    r.version.push(tlsb_conn_protocol_version(r.conn));
    let mut nested = Sink::default();
    let (mut sent, mut e) = (0, new_err());
    let code = tlsb_conn_send_tls(r.conn, Some(record_sink), &mut nested as *mut Sink as *mut c_void, &mut sent, &mut e);
    r.nested_send.push((code, e.code, nested.calls));
    record_sink(&mut r.sink as *mut Sink as *mut c_void, batch, count)
}

impl Reentry {
    fn new(conn: *mut tlsb_conn) -> Reentry {
        Reentry {
            conn,
            sink: Sink::default(),
            process: Vec::new(),
            read_tls: Vec::new(),
            wants_write: Vec::new(),
            version: Vec::new(),
            nested_send: Vec::new(),
        }
    }

    fn send(&mut self) -> (tlsb_result, usize, tlsb_error) {
        let mut sent = usize::MAX;
        let mut e = new_err();
        let r = tlsb_conn_send_tls(self.conn, Some(reentering_sink), self as *mut Reentry as *mut c_void, &mut sent, &mut e);
        assert_eq!(self.sink.null_slices, 0, "a lent slice had a NULL data pointer");
        (r, sent, e)
    }

    /// Every call back into the connection was refused, as the header says.
    fn assert_all_refused(&self) {
        let batches = self.sink.calls;
        assert!(batches >= 1);
        assert_eq!((self.process.len(), self.read_tls.len()), (batches, batches));
        for (code, e_code, text) in &self.process {
            assert_eq!((*code, *e_code), (TLSB_ERR_INVALID, TLSB_ERR_INVALID as u32), "{}", text);
            assert!(text.contains("callback"), "{}", text);
        }
        for (code, consumed, e_code, text) in &self.read_tls {
            assert_eq!((*code, *e_code), (TLSB_ERR_INVALID, TLSB_ERR_INVALID as u32), "{}", text);
            assert!(text.contains("callback"), "{}", text);
            assert!(*consumed == 0 || *consumed == 77, "the refused call reports {} bytes taken", consumed);
        }
        // Nor can the sink send the records it is being lent.
        assert_eq!(self.nested_send.len(), batches);
        for (code, e_code, calls) in &self.nested_send {
            assert_eq!((*code, *e_code, *calls), (TLSB_ERR_INVALID, TLSB_ERR_INVALID as u32, 0));
        }
        // Value queries answer their default (0), whatever the connection's state.
        assert!(self.wants_write.iter().all(|w| *w == 0), "{:?}", self.wants_write);
        assert!(self.version.iter().all(|v| *v == 0), "{:?}", self.version);
    }
}

#[test]
fn send_tls_refuses_calls_from_its_sink() {
    let (_k, cfg) = rsa_config();
    for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let mut p = Pair::handshake(client(ClientOpts { versions: vec![v], ..Default::default() }), select(&cfg, b""));
        let want = queue_200k(&mut p);
        let mut r = Reentry::new(p.server);
        let (code, sent, e) = r.send();
        // The outer call is unaffected: it lends everything, each byte once, in order.
        assert_eq!(code, TLSB_OK, "{}", msg(&e));
        let wire = r.sink.bytes();
        assert_eq!(sent, wire.len());
        assert!(r.sink.calls >= 4, "{} batches", r.sink.calls);
        assert_eq!(r.sink.calls, r.sink.accepted.len());
        for batch in &r.sink.accepted {
            assert_whole_records(batch);
        }
        r.assert_all_refused();
        assert_eq!(tlsb_conn_wants_write(p.server), 0);
        p.feed_client(&wire);
        assert!(p.client_err.is_none(), "{:?}", p.client_err);
        assert!(p.client_plain == want, "the client decrypted {} bytes, not the {} written", p.client_plain.len(), want.len());
        // The connection is whole again: its state is back, nothing refused was taken.
        assert_eq!(tlsb_conn_protocol_version(p.server), u16::from(v.version));
        p.client_plain.clear();
        exchange(&mut p);
        let mut again = Reentry::new(p.server);
        assert_eq!(again.send().0, TLSB_OK);
        assert_eq!(again.sink.calls, 0, "nothing was left queued");
    }
    // During the handshake (the server's first flight), and for an alert made before a rustls
    // connection existed.
    let mut p = Pair::new(client(ClientOpts::default()), select(&cfg, b""));
    let hello = p.client_output();
    p.feed_server(&hello);
    let mut r = Reentry::new(p.server);
    let (code, sent, _) = r.send();
    assert_eq!(code, TLSB_OK);
    r.assert_all_refused();
    assert_eq!(sent, r.sink.bytes().len());
    p.feed_client(&r.sink.bytes());
    p.pump();
    assert!(p.server_err.is_none() && p.client_err.is_none(), "{:?} {:?}", p.server_err, p.client_err);
    exchange(&mut p);

    let hook: Hook = Box::new(|c, e| tlsb_conn_reject(c, 112, e));
    let mut p = Pair::new(client(ClientOpts::default()), hook);
    let hello = p.client_output();
    p.feed_server(&hello);
    let mut r = Reentry::new(p.server);
    let (code, sent, _) = r.send();
    assert_eq!((code, sent), (TLSB_OK, 7));
    r.assert_all_refused();
    assert_eq!(r.sink.accepted, vec![vec![vec![0x15, 3, 3, 0, 2, 2, 112]]]);
    // Afterwards the connection answers as before: dead by the rejection, nothing left to send.
    let mut e = new_err();
    assert_eq!(tlsb_conn_process(p.server, &mut e), TLSB_ERR_TLS);
    assert_eq!(e.alert_sent, 112);
    assert_eq!(tlsb_conn_wants_write(p.server), 0);
}

// ---- handles passed inside other calls' arguments ----------------------------------------------

/// Poisons a handle as a caught panic does (ffi::run sets the same flag).
fn poison<T: Handle>(h: *const T) {
    unsafe { &*h }.poison_flag().store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn poisoned_handles_in_arguments_are_refused() {
    let good = load("rsa.crt", "rsa.key");
    let bad = load("ecdsa-p256.crt", "ecdsa-p256.key");
    poison(bad.0);
    assert_eq!(tlsb_certified_key_chain_len(bad.0), 0);
    for keys in [vec![&bad], vec![&good, &bad], vec![&bad, &good]] {
        let e = make_config(&[], &[], &keys, false, &[]).err().expect("refused");
        assert_eq!(e.code, TLSB_ERR_PANIC);
        assert!(e.message.contains("poisoned"), "{}", e.message);
    }
    // In a client config's keys too.
    let ca = data("ca.crt");
    let kp = [good.0 as *const tlsb_certified_key, bad.0 as *const tlsb_certified_key];
    let params = tlsb_client_config_params {
        versions: null(), versions_len: 0, suites: null(), suites_len: 0, groups: null(), groups_len: 0,
        ca_pem: ca.as_ptr(), ca_len: ca.len(), keys: kp.as_ptr(), keys_len: 2,
    };
    let (mut out, mut e) = (null_mut(), new_err());
    assert_eq!(tlsb_client_config_new(&params, &mut out, &mut e), TLSB_ERR_PANIC);
    assert!(out.is_null());
    assert!(msg(&e).contains("poisoned"), "{}", msg(&e));
    assert_eq!(tlsb_client_config_new(&tlsb_client_config_params { keys_len: 1, ..params }, &mut out, &mut e), TLSB_OK);
    // A poisoned client config makes no connection.
    poison(out);
    let mut conn = null_mut();
    assert_eq!(tlsb_conn_new_client(out, &mut conn), TLSB_ERR_PANIC);
    assert!(conn.is_null());
    tlsb_client_config_free(out);

    // A poisoned server config is not selected; the ClientHello stays ready for another.
    let (_k, cfg) = rsa_config();
    let (_k2, poisoned_cfg) = rsa_config();
    poison(poisoned_cfg.0);
    let cfg_ptr = cfg.0 as *const tlsb_server_config;
    let bad_ptr = poisoned_cfg.0 as *const tlsb_server_config;
    let hook: Hook = Box::new(move |c, e| {
        let mut e2 = new_err();
        assert_eq!(tlsb_conn_select_config(c, bad_ptr, null(), 0, &mut e2), TLSB_ERR_PANIC);
        assert!(msg(&e2).contains("poisoned"), "{}", msg(&e2));
        tlsb_conn_select_config(c, cfg_ptr, null(), 0, e)
    });
    let mut p = Pair::handshake(client(ClientOpts::default()), hook);
    exchange(&mut p);
    // The good key still makes configs.
    assert!(make_config(&[], &[], &[&good], false, &[]).is_ok());
}

// ---- SNI -----------------------------------------------------------------------------------------

/// Replaces the host name of a ClientHello's server_name extension with another of the same
/// length (the handshake transcript then differs from the client's: only the server's first
/// flight can follow).
fn with_sni(hello: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = hello.windows(from.len()).position(|w| w == from).expect("the SNI in the ClientHello");
    // server_name extension: type 0, then lengths, then name_type 0 and the name's length.
    assert_eq!(&hello[at - 9..at - 7], &[0, 0], "not the server_name extension");
    assert_eq!(hello[at - 3], 0, "not a host_name");
    let mut out = hello.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

/// rustls 0.23 takes an IP literal in SNI (RFC 6066 forbids it; some clients send it anyway) as no
/// SNI: the ClientHello is ready with an empty hello SNI and the handshake goes on.
#[test]
fn ip_literal_in_sni_reads_as_no_sni() {
    let (_k, cfg) = rsa_config();
    for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let mut c = client(ClientOpts { versions: vec![v], ..Default::default() });
        let mut hello = Vec::new();
        c.write_tls(&mut hello).unwrap();
        let hello = with_sni(&hello, b"localhost", b"127.0.0.1");
        let mut conn = null_mut();
        assert_eq!(tlsb_conn_new_server(&mut conn), TLSB_OK);
        let (mut n, mut e) = (0, new_err());
        assert_eq!(tlsb_conn_read_tls(conn, hello.as_ptr(), hello.len(), &mut n, &mut e), TLSB_OK);
        assert_eq!(n, hello.len());
        assert_eq!(tlsb_conn_process(conn, &mut e), TLSB_HELLO_READY, "{}", msg(&e));
        let (mut p, mut l) = (null(), 99);
        assert_eq!(tlsb_conn_hello_sni(conn, &mut p, &mut l), TLSB_OK);
        assert_eq!(l, 0);
        assert!(!p.is_null());
        assert_eq!(tlsb_conn_select_config(conn, cfg.0, null(), 0, &mut e), TLSB_OK, "{}", msg(&e));
        let (r, out) = drain_tls(conn);
        assert_eq!(r, TLSB_OK);
        // A ServerHello (handshake record, message type 2), with our certificate chosen.
        assert!(out.len() > 9 && out[0] == 0x16 && out[5] == 2, "{:02x?}", &out[..out.len().min(9)]);
        assert_eq!(tlsb_conn_protocol_version(conn), u16::from(v.version));
        assert_eq!(tlsb_conn_is_handshaking(conn), 1);
        assert_eq!(tlsb_conn_server_cert_count(conn), 1);
        let (mut p, mut l) = (null(), 99);
        assert_eq!(tlsb_conn_sni(conn, &mut p, &mut l), TLSB_OK);
        assert_eq!(l, 0);
        tlsb_conn_free(conn);
    }
    // A host name there is the hello SNI, as sent.
    let mut c = client(ClientOpts { sni: "example.test", ..Default::default() });
    let mut hello = Vec::new();
    c.write_tls(&mut hello).unwrap();
    let hello = with_sni(&hello, b"example.test", b"examp1e.test");
    let mut conn = null_mut();
    assert_eq!(tlsb_conn_new_server(&mut conn), TLSB_OK);
    let mut n = 0;
    assert_eq!(tlsb_conn_read_tls(conn, hello.as_ptr(), hello.len(), &mut n, null_mut()), TLSB_OK);
    assert_eq!(tlsb_conn_process(conn, null_mut()), TLSB_HELLO_READY);
    let (mut p, mut l) = (null(), 0);
    assert_eq!(tlsb_conn_hello_sni(conn, &mut p, &mut l), TLSB_OK);
    assert_eq!(unsafe { span(p, l) }, b"examp1e.test");
    tlsb_conn_free(conn);
}

// Key exchange groups (TLSGroups): configured, negotiated, reported.
#[path = "tests_groups.rs"]
mod groups_tests;

// Certificate fields, resumption and the certificate sent (SSL_* variables).
#[path = "tests_vars.rs"]
mod vars;

// OCSP stapling: ids, the PEM for OCSP requests, responses stapled in handshakes.
#[path = "tests_ocsp.rs"]
mod ocsp_stapling;
// Client certificates: verification, revocation (CRLs), alerts.
#[path = "tests_client_auth.rs"]
mod client_auth;
// Session caches outside the process and shared ticket keys (TLSSessionCache, TLSSessionTicketKeys).
#[path = "tests_session.rs"]
mod tests_session;
