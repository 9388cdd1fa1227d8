//! Client (backend) connections: a bridge client against a bridge server, all in memory.

use std::ptr::{null, null_mut};

use crate::ffi::*;
use crate::tests::drain_tls;
// The C ABI functions live in the modules of their concern.
use crate::{client::*, config::*, conn::*, key::*};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{}", env!("CARGO_MANIFEST_DIR"), name)).unwrap()
}

fn new_err() -> tlsb_error {
    tlsb_error { code: 0, alert_sent: 0, alert_received: 0, message: [0; MESSAGE_CAP] }
}

fn msg(e: &tlsb_error) -> String {
    let bytes: Vec<u8> = e.message.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8(bytes).unwrap()
}

struct ClientConfig(*mut tlsb_client_config);
impl Drop for ClientConfig {
    fn drop(&mut self) {
        tlsb_client_config_free(self.0)
    }
}

fn client_config(ca: &[u8], versions: &[u16], keys: &[*const tlsb_certified_key]) -> Result<ClientConfig, (tlsb_result, String)> {
    client_config_groups(ca, versions, &[], keys)
}

fn client_config_groups(
    ca: &[u8],
    versions: &[u16],
    groups: &[u16],
    keys: &[*const tlsb_certified_key],
) -> Result<ClientConfig, (tlsb_result, String)> {
    let params = tlsb_client_config_params {
        versions: versions.as_ptr(),
        versions_len: versions.len(),
        suites: null(),
        suites_len: 0,
        groups: groups.as_ptr(),
        groups_len: groups.len(),
        ca_pem: ca.as_ptr(),
        ca_len: ca.len(),
        keys: keys.as_ptr(),
        keys_len: keys.len(),
    };
    let mut out = null_mut();
    let mut e = new_err();
    match tlsb_client_config_new(&params, &mut out, &mut e) {
        TLSB_OK => Ok(ClientConfig(out)),
        r => {
            assert!(out.is_null());
            Err((r, msg(&e)))
        }
    }
}

/// A bridge server config over rsa.crt (names localhost, example.test) offering h2.
struct Server {
    key: *mut tlsb_certified_key,
    config: *mut tlsb_server_config,
}
impl Drop for Server {
    fn drop(&mut self) {
        tlsb_server_config_free(self.config);
        tlsb_certified_key_free(self.key);
    }
}

fn server(versions: &[u16]) -> Server {
    server_with("rsa.crt", "rsa.key", versions, &[])
}

fn server_with(cert: &str, key: &str, versions: &[u16], groups: &[u16]) -> Server {
    let (cert, key) = (data(cert), data(key));
    let mut k = null_mut();
    assert_eq!(tlsb_certified_key_new(cert.as_ptr(), cert.len(), key.as_ptr(), key.len(), &mut k, null_mut()), TLSB_OK);
    let keys = [k as *const tlsb_certified_key];
    let alpn: [&[u8]; 1] = [b"h2"];
    let alpn_ptrs: Vec<*const u8> = alpn.iter().map(|a| a.as_ptr()).collect();
    let alpn_lens: Vec<usize> = alpn.iter().map(|a| a.len()).collect();
    let params = tlsb_server_config_params {
        versions: versions.as_ptr(),
        versions_len: versions.len(),
        suites: null(),
        suites_len: 0,
        groups: groups.as_ptr(),
        groups_len: groups.len(),
        keys: keys.as_ptr(),
        keys_len: 1,
        honor_client_order: 1,
        alpn: alpn_ptrs.as_ptr(),
        alpn_lens: alpn_lens.as_ptr(),
        alpn_len: 1,
        client_verifier: null(),
        session_store: null(),
        no_session_cache: 0,
        ticket_keys: null(),
        session_scope: null(),
        session_scope_len: 0,
    };
    let mut config = null_mut();
    assert_eq!(tlsb_server_config_new(&params, &mut config, null_mut()), TLSB_OK);
    Server { key: k, config }
}

struct Conn(*mut tlsb_conn);
impl Drop for Conn {
    fn drop(&mut self) {
        tlsb_conn_free(self.0)
    }
}

/// Moves every pending TLS byte from `from` to `to`.
fn transfer(from: &Conn, to: &Conn) -> usize {
    let mut moved = 0;
    while tlsb_conn_wants_write(from.0) != 0 {
        let (r, buf) = drain_tls(from.0);
        let n = buf.len();
        if r != TLSB_OK || n == 0 {
            break;
        }
        let mut off = 0;
        while off < n {
            let mut used = 0;
            if tlsb_conn_read_tls(to.0, buf[off..].as_ptr(), n - off, &mut used, null_mut()) != TLSB_OK {
                return moved;
            }
            off += used;
        }
        moved += n;
    }
    moved
}

/// Runs client and server until neither has anything to send; returns the first error of each.
fn pump(client: &Conn, srv: &Conn, config: &Server) -> (Option<(tlsb_result, String)>, Option<(tlsb_result, String)>) {
    let (mut cerr, mut serr) = (None, None);
    for _ in 0..20 {
        let a = transfer(client, srv);
        let mut e = new_err();
        let mut r = tlsb_conn_process(srv.0, &mut e);
        if r == TLSB_HELLO_READY {
            let offered = tlsb_conn_hello_alpn_count(srv.0) > 0;
            let alpn: &[u8] = if offered { b"h2" } else { b"" };
            r = tlsb_conn_select_config(srv.0, config.config, alpn.as_ptr(), alpn.len(), &mut e);
        }
        if r as u32 >= 100 && serr.is_none() {
            serr = Some((r, msg(&e)));
        }
        let b = transfer(srv, client);
        let mut e = new_err();
        let r = tlsb_conn_process(client.0, &mut e);
        if r as u32 >= 100 && cerr.is_none() {
            cerr = Some((r, msg(&e)));
        }
        if a == 0 && b == 0 && tlsb_conn_wants_write(client.0) == 0 {
            break;
        }
    }
    (cerr, serr)
}

fn new_client(config: &ClientConfig, name: &str, alpn: &str) -> Result<Conn, (tlsb_result, String)> {
    let mut c = null_mut();
    assert_eq!(tlsb_conn_new_client(config.0, &mut c), TLSB_OK);
    let c = Conn(c);
    assert_eq!(tlsb_conn_is_client(c.0), 1);
    let mut e = new_err();
    match tlsb_conn_start_client(c.0, name.as_ptr(), name.len(), alpn.as_ptr(), alpn.len(), &mut e) {
        TLSB_OK => Ok(c),
        r => Err((r, msg(&e))),
    }
}

fn new_server_conn() -> Conn {
    let mut s = null_mut();
    assert_eq!(tlsb_conn_new_server(&mut s), TLSB_OK);
    Conn(s)
}

fn read_all(c: &Conn) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut n = 0;
        if tlsb_conn_read_plain(c.0, buf.as_mut_ptr(), buf.len(), &mut n, null_mut()) != TLSB_OK {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn client_handshakes_verifies_and_exchanges_data() {
    for versions in [&[0x0304u16][..], &[0x0303u16][..]] {
        let cfg = client_config(&data("ca.crt"), &[], &[]).unwrap();
        assert_eq!(tlsb_client_config_anchor_count(cfg.0), 1);
        let srv_cfg = server(versions);
        let client = new_client(&cfg, "example.test", "h2").unwrap();
        let srv = new_server_conn();
        let (cerr, serr) = pump(&client, &srv, &srv_cfg);
        assert!(cerr.is_none() && serr.is_none(), "{:?} {:?}", cerr, serr);
        assert_eq!(tlsb_conn_is_handshaking(client.0), 0);
        assert_eq!(tlsb_conn_protocol_version(client.0), versions[0]);
        let (mut p, mut len) = (null(), 0);
        assert_eq!(tlsb_conn_alpn(client.0, &mut p, &mut len), TLSB_OK);
        assert_eq!(unsafe { std::slice::from_raw_parts(p, len) }, b"h2");
        // SNI: the server saw the name the client verified.
        assert_eq!(tlsb_conn_sni(srv.0, &mut p, &mut len), TLSB_OK);
        assert_eq!(unsafe { std::slice::from_raw_parts(p, len) }, b"example.test");
        assert_eq!(tlsb_conn_sni(client.0, &mut p, &mut len), TLSB_OK);
        assert_eq!(unsafe { std::slice::from_raw_parts(p, len) }, b"example.test");
        assert!(tlsb_conn_peer_cert_count(client.0) >= 1);

        let mut n = 0;
        assert_eq!(tlsb_conn_write_plain(client.0, b"GET /".as_ptr(), 5, &mut n, null_mut()), TLSB_OK);
        pump(&client, &srv, &srv_cfg);
        assert_eq!(read_all(&srv), b"GET /");
        assert_eq!(tlsb_conn_write_plain(srv.0, b"200".as_ptr(), 3, &mut n, null_mut()), TLSB_OK);
        pump(&client, &srv, &srv_cfg);
        assert_eq!(read_all(&client), b"200");
    }
}

#[test]
fn plaintext_written_before_start_is_sent_after_the_handshake() {
    let cfg = client_config(&data("ca.crt"), &[], &[]).unwrap();
    let srv_cfg = server(&[]);
    let mut c = null_mut();
    assert_eq!(tlsb_conn_new_client(cfg.0, &mut c), TLSB_OK);
    let client = Conn(c);
    assert_eq!(tlsb_conn_wants_write(client.0), 0);
    assert_eq!(tlsb_conn_is_handshaking(client.0), 1);
    let mut n = 0;
    assert_eq!(tlsb_conn_write_plain(client.0, b"early".as_ptr(), 5, &mut n, null_mut()), TLSB_OK);
    let name = "localhost";
    assert_eq!(tlsb_conn_start_client(client.0, name.as_ptr(), name.len(), null(), 0, null_mut()), TLSB_OK);
    let srv = new_server_conn();
    let (cerr, serr) = pump(&client, &srv, &srv_cfg);
    assert!(cerr.is_none() && serr.is_none(), "{:?} {:?}", cerr, serr);
    assert_eq!(read_all(&srv), b"early");
}

#[test]
fn unknown_issuer_is_refused_with_a_reason() {
    let cfg = client_config(&data("inter.crt"), &[], &[]).unwrap();
    let srv_cfg = server(&[]);
    let client = new_client(&cfg, "localhost", "").unwrap();
    let srv = new_server_conn();
    let (cerr, serr) = pump(&client, &srv, &srv_cfg);
    let (code, text) = cerr.expect("the client must refuse the certificate");
    assert_eq!(code, TLSB_ERR_TLS);
    assert!(text.contains("not issued by a trusted CA"), "{}", text);
    // The server learns why: the client sent unknown_ca (rustls 0.20 sent bad_certificate).
    let (code, text) = serr.expect("server error");
    assert_eq!(code, TLSB_ERR_TLS);
    assert!(text.contains("the client sent a fatal alert: unknown_ca"), "{}", text);
}

#[test]
fn wrong_host_name_is_refused() {
    let cfg = client_config(&data("ca.crt"), &[], &[]).unwrap();
    let srv_cfg = server(&[]);
    let client = new_client(&cfg, "other.test", "").unwrap();
    let srv = new_server_conn();
    let (cerr, _) = pump(&client, &srv, &srv_cfg);
    let (_, text) = cerr.expect("name mismatch must fail");
    assert!(text.contains("not valid for the backend's host name"), "{}", text);
}

#[test]
fn protocol_mismatch_names_the_alert() {
    let cfg = client_config(&data("ca.crt"), &[0x0304u16], &[]).unwrap();
    let srv_cfg = server(&[0x0303]);
    let client = new_client(&cfg, "localhost", "").unwrap();
    let srv = new_server_conn();
    let (cerr, _) = pump(&client, &srv, &srv_cfg);
    let (_, text) = cerr.expect("no common version");
    assert!(text.contains("the backend sent a fatal alert: protocol_version"), "{}", text);
}

/// The SNI the server connection saw in the ClientHello.
fn server_saw_sni(srv: &Conn) -> Vec<u8> {
    let (mut p, mut len) = (null(), 0);
    assert_eq!(tlsb_conn_sni(srv.0, &mut p, &mut len), TLSB_OK);
    unsafe { std::slice::from_raw_parts(p, len) }.to_vec()
}

#[test]
fn ip_literal_server_names_send_no_sni_and_verify_ip_addresses() {
    let cfg = client_config(&data("ca.crt"), &[], &[]).unwrap();
    // ip.crt names 127.0.0.1 and ::1 (IP address SANs only).
    let srv_cfg = server_with("ip.crt", "ip.key", &[], &[]);
    for ip in ["127.0.0.1", "::1", "[::1]"] {
        let client = new_client(&cfg, ip, "").unwrap_or_else(|e| panic!("{}: {:?}", ip, e));
        let srv = new_server_conn();
        let (cerr, serr) = pump(&client, &srv, &srv_cfg);
        assert!(cerr.is_none() && serr.is_none(), "{}: {:?} {:?}", ip, cerr, serr);
        assert_eq!(tlsb_conn_is_handshaking(client.0), 0);
        assert_eq!(server_saw_sni(&srv), b"", "{}: an IP address is not sent as SNI", ip);
        let mut n = 0;
        assert_eq!(tlsb_conn_write_plain(client.0, b"GET /".as_ptr(), 5, &mut n, null_mut()), TLSB_OK);
        pump(&client, &srv, &srv_cfg);
        assert_eq!(read_all(&srv), b"GET /");
    }
    // Another address, or a certificate naming only host names: refused by name.
    for (ip, srv_cfg) in [("127.0.0.2", &srv_cfg), ("127.0.0.1", &server(&[]))] {
        let client = new_client(&cfg, ip, "").unwrap();
        let srv = new_server_conn();
        let (cerr, _) = pump(&client, &srv, srv_cfg);
        let (code, text) = cerr.expect("name mismatch must fail");
        assert_eq!(code, TLSB_ERR_TLS);
        assert!(text.contains("not valid for the backend's host name"), "{}", text);
        assert_eq!(server_saw_sni(&srv), b"");
    }
    for bad in ["not a name", "", "999.1.1.1.", "a..b", "[::1", "::1]", "[localhost]"] {
        let (code, text) = new_client(&cfg, bad, "").err().unwrap_or_else(|| panic!("'{}' must fail", bad));
        assert_eq!(code, TLSB_ERR_CONFIG);
        assert!(text.contains("is not a valid DNS name or IP address"), "{}", text);
    }
}

#[test]
fn configured_groups_are_offered_and_negotiated() {
    for versions in [&[0x0304u16][..], &[0x0303u16][..]] {
        // The client offers only secp384r1; the server takes any.
        let cfg = client_config_groups(&data("ca.crt"), versions, &[0x0018], &[]).unwrap();
        let srv_cfg = server(&[]);
        let client = new_client(&cfg, "localhost", "").unwrap();
        let srv = new_server_conn();
        let (cerr, serr) = pump(&client, &srv, &srv_cfg);
        assert!(cerr.is_none() && serr.is_none(), "{:?} {:?}", cerr, serr);
        assert_eq!(tlsb_conn_kx_group(client.0), 0x0018);
        assert_eq!(tlsb_conn_kx_group(srv.0), 0x0018);
        // No group in common.
        let srv_cfg = server_with("rsa.crt", "rsa.key", &[], &[0x0017]);
        let client = new_client(&cfg, "localhost", "").unwrap();
        let srv = new_server_conn();
        let (cerr, serr) = pump(&client, &srv, &srv_cfg);
        let (_, text) = cerr.expect("no common group");
        assert!(text.contains("the backend sent a fatal alert: handshake_failure"), "{}", text);
        assert!(serr.is_some());
    }
    let (code, text) = client_config_groups(&data("ca.crt"), &[], &[0x0019], &[]).err().unwrap();
    assert_eq!(code, TLSB_ERR_CONFIG);
    assert!(text.contains("0x0019"), "{}", text);
}

#[test]
fn ca_pem_without_certificates_is_refused() {
    let (code, text) = client_config(b"", &[], &[]).err().unwrap();
    assert_eq!(code, TLSB_ERR_PEM);
    assert!(text.contains("no usable CERTIFICATE"), "{}", text);
    let (code, _) = client_config(&data("rsa.key"), &[], &[]).err().unwrap();
    assert_eq!(code, TLSB_ERR_PEM);
}

#[test]
fn client_calls_are_null_safe_and_state_checked() {
    let mut out = null_mut();
    assert_eq!(tlsb_conn_new_client(null(), &mut out), TLSB_ERR_NULL);
    assert!(out.is_null());
    assert_eq!(tlsb_client_config_new(null(), &mut out as *mut _ as *mut *mut tlsb_client_config, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_start_client(null_mut(), null(), 0, null(), 0, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_conn_is_client(null()), 0);
    assert_eq!(tlsb_client_config_anchor_count(null()), 0);
    tlsb_client_config_free(null_mut());

    let cfg = client_config(&data("ca.crt"), &[], &[]).unwrap();
    let mut c = null_mut();
    assert_eq!(tlsb_conn_new_client(cfg.0, &mut c), TLSB_OK);
    let client = Conn(c);
    let mut used = 0;
    assert_eq!(tlsb_conn_read_tls(client.0, b"x".as_ptr(), 1, &mut used, null_mut()), TLSB_ERR_INVALID);
    let name = "localhost";
    assert_eq!(tlsb_conn_start_client(client.0, name.as_ptr(), name.len(), null(), 0, null_mut()), TLSB_OK);
    assert_eq!(tlsb_conn_start_client(client.0, name.as_ptr(), name.len(), null(), 0, null_mut()), TLSB_ERR_INVALID);
    // A server connection is not a client.
    let srv = new_server_conn();
    assert_eq!(tlsb_conn_is_client(srv.0), 0);
    assert_eq!(tlsb_conn_start_client(srv.0, name.as_ptr(), name.len(), null(), 0, null_mut()), TLSB_ERR_INVALID);
}

#[test]
fn alpn_lists_as_mod_proxy_writes_them() {
    assert_eq!(crate::client::parse_alpn_list(b"h2"), vec![b"h2".to_vec()]);
    assert_eq!(crate::client::parse_alpn_list(b"h2, http/1.1"), vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert!(crate::client::parse_alpn_list(b" , ").is_empty());
}

#[test]
fn client_certificate_is_loaded_into_the_config() {
    let (cert, key) = (data("rsa.crt"), data("rsa.key"));
    let mut k = null_mut();
    assert_eq!(tlsb_certified_key_new(cert.as_ptr(), cert.len(), key.as_ptr(), key.len(), &mut k, null_mut()), TLSB_OK);
    let cfg = client_config(&data("ca.crt"), &[], &[k as *const _]);
    tlsb_certified_key_free(k); // the config keeps its own reference
    let cfg = cfg.unwrap();
    let srv_cfg = server(&[]);
    let client = new_client(&cfg, "localhost", "").unwrap();
    let srv = new_server_conn();
    let (cerr, serr) = pump(&client, &srv, &srv_cfg);
    assert!(cerr.is_none() && serr.is_none(), "{:?} {:?}", cerr, serr);
}
