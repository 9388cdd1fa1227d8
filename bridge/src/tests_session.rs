//! Resumption through an external session store (C callbacks, as mod_tls's socache glue) and
//! through shared ticket keys: a session made on one server config resumes on another config
//! (standing for another worker process or another machine) that shares the store or the keys.

use std::collections::HashMap;
use std::os::raw::{c_int, c_void};
use std::sync::Mutex;

use super::vars::{connect, resuming_client_config};
use super::*;

/// A store in "another process": a map behind the C callbacks, counting calls.
#[derive(Default)]
struct MapStore {
    map: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    puts: Mutex<usize>,
    gets: Mutex<usize>,
    down: Mutex<bool>,
}

extern "C" fn map_put(user: *mut c_void, k: *const u8, kl: usize, v: *const u8, vl: usize) -> c_int {
    let s = unsafe { &*(user as *const MapStore) };
    *s.puts.lock().unwrap() += 1;
    if *s.down.lock().unwrap() {
        return 0;
    }
    let (k, v) = unsafe { (span(k, kl).to_vec(), span(v, vl).to_vec()) };
    s.map.lock().unwrap().insert(k, v);
    1
}

extern "C" fn map_get(
    user: *mut c_void,
    k: *const u8,
    kl: usize,
    remove: c_int,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> c_int {
    let s = unsafe { &*(user as *const MapStore) };
    *s.gets.lock().unwrap() += 1;
    if *s.down.lock().unwrap() {
        return 0;
    }
    let k = unsafe { span(k, kl) };
    let mut map = s.map.lock().unwrap();
    let v = if remove != 0 { map.remove(k) } else { map.get(k).cloned() };
    match v {
        Some(v) if v.len() <= cap => {
            unsafe {
                std::ptr::copy_nonoverlapping(v.as_ptr(), buf, v.len());
                *len = v.len();
            }
            1
        }
        _ => 0,
    }
}

impl MapStore {
    fn callbacks(&self) -> tlsb_session_store {
        tlsb_session_store { user: self as *const MapStore as *mut c_void, put: Some(map_put), get: Some(map_get) }
    }
}

struct Keys(*mut tlsb_ticket_keys);
impl Drop for Keys {
    fn drop(&mut self) {
        tlsb_ticket_keys_free(self.0)
    }
}

fn ticket_keys(text: &str) -> Result<Keys, ErrInfo> {
    let mut out = null_mut();
    let mut e = new_err();
    let r = tlsb_ticket_keys_new(text.as_ptr(), text.len(), 300, &mut out, &mut e);
    if r == TLSB_OK {
        Ok(Keys(out))
    } else {
        assert!(out.is_null());
        Err(ErrInfo::from(r, &e))
    }
}

fn config_with(key: &Key, store: Option<&tlsb_session_store>, none: bool, keys: Option<&Keys>) -> Config {
    config_scoped(key, store, none, keys, "")
}

fn config_scoped(key: &Key, store: Option<&tlsb_session_store>, none: bool, keys: Option<&Keys>, scope: &str) -> Config {
    let k = [key.0 as *const tlsb_certified_key];
    let params = tlsb_server_config_params {
        versions: null(),
        versions_len: 0,
        suites: null(),
        suites_len: 0,
        groups: null(),
        groups_len: 0,
        keys: k.as_ptr(),
        keys_len: 1,
        honor_client_order: 0,
        alpn: null(),
        alpn_lens: null(),
        alpn_len: 0,
        client_verifier: null(),
        session_store: store.map(|s| s as *const _).unwrap_or(null()),
        no_session_cache: c_int::from(none),
        ticket_keys: keys.map(|k| k.0 as *const _).unwrap_or(null()),
        session_scope: scope.as_ptr(),
        session_scope_len: scope.len(),
    };
    let mut out = null_mut();
    let mut e = new_err();
    assert_eq!(tlsb_server_config_new(&params, &mut out, &mut e), TLSB_OK, "{}", msg(&e));
    Config(out)
}

const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
static VERSIONS: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];

fn resumed(p: &Pair) -> bool {
    tlsb_conn_is_resumed(p.server) == 1
}

#[test]
fn a_shared_store_resumes_across_configs() {
    for version in VERSIONS.iter().copied() {
        let key = load("rsa.crt", "rsa.key");
        let store = MapStore::default();
        let cb = store.callbacks();
        let (a, b) = (config_with(&key, Some(&cb), false, None), config_with(&key, Some(&cb), false, None));
        let client = resuming_client_config(version);
        assert!(!resumed(&connect(&client, &a)), "{:?}", version.version);
        assert!(*store.puts.lock().unwrap() >= 1, "the session went to the store");
        assert!(resumed(&connect(&client, &b)), "{:?}: b resumes a's session", version.version);
        assert!(resumed(&connect(&client, &a)), "{:?}: and back", version.version);
    }
}

#[test]
fn sessions_and_tickets_stay_within_their_scope() {
    for version in VERSIONS.iter().copied() {
        let key = load("rsa.crt", "rsa.key");
        let store = MapStore::default();
        let cb = store.callbacks();
        let keys = ticket_keys(K1).unwrap();
        for tickets in [None, Some(&keys)] {
            let a = config_scoped(&key, Some(&cb), false, tickets, "127.0.0.1:443 a.test");
            let a2 = config_scoped(&key, Some(&cb), false, tickets, "127.0.0.1:443 a.test");
            let b = config_scoped(&key, Some(&cb), false, tickets, "127.0.0.1:8443 a.test");
            let client = resuming_client_config(version);
            assert!(!resumed(&connect(&client, &a)));
            assert!(!resumed(&connect(&client, &b)), "{:?}: another scope never resumes a's session", version.version);
            let client = resuming_client_config(version);
            assert!(!resumed(&connect(&client, &a)));
            assert!(resumed(&connect(&client, &a2)), "{:?}: the same scope (another server of a cluster) resumes", version.version);
        }
    }
}

#[test]
fn tls13_stateful_tickets_are_single_use() {
    let key = load("rsa.crt", "rsa.key");
    let store = MapStore::default();
    let cb = store.callbacks();
    let a = config_with(&key, Some(&cb), false, None);
    // rustls 0.23 sends ServerConfig::send_tls13_tickets tickets per handshake: 2 by default
    // (rustls 0.20 sent one).
    let per_handshake = unsafe { &*a.0 }.for_alpn(b"").unwrap().send_tls13_tickets;
    assert_eq!(per_handshake, 2);
    let client = resuming_client_config(&rustls::version::TLS13);
    connect(&client, &a);
    assert_eq!(store.map.lock().unwrap().len(), per_handshake, "the tickets of one handshake");
    assert_eq!(*store.puts.lock().unwrap(), per_handshake);
    assert!(resumed(&connect(&client, &a)));
    assert_eq!(
        store.map.lock().unwrap().len(),
        2 * per_handshake - 1,
        "the used ticket was taken, the new ones stored"
    );
}

#[test]
fn a_failing_store_means_full_handshakes() {
    for version in VERSIONS.iter().copied() {
        let key = load("rsa.crt", "rsa.key");
        let store = MapStore::default();
        *store.down.lock().unwrap() = true;
        let cb = store.callbacks();
        let a = config_with(&key, Some(&cb), false, None);
        let client = resuming_client_config(version);
        assert!(!resumed(&connect(&client, &a)));
        assert!(!resumed(&connect(&client, &a)), "{:?}", version.version);
        *store.down.lock().unwrap() = false;
        connect(&client, &a);
        assert!(resumed(&connect(&client, &a)), "{:?}: back up, resumption works again", version.version);
    }
}

#[test]
fn no_session_cache_never_resumes() {
    for version in VERSIONS.iter().copied() {
        let key = load("rsa.crt", "rsa.key");
        let a = config_with(&key, None, true, None);
        let client = resuming_client_config(version);
        connect(&client, &a);
        assert!(!resumed(&connect(&client, &a)), "{:?}", version.version);
    }
}

#[test]
fn per_process_default_does_not_cross_configs() {
    let key = load("rsa.crt", "rsa.key");
    let (a, b) = (config_with(&key, None, false, None), config_with(&key, None, false, None));
    let client = resuming_client_config(&rustls::version::TLS12);
    connect(&client, &a);
    assert!(!resumed(&connect(&client, &b)));
}

#[test]
fn shared_ticket_keys_resume_across_configs_without_a_store() {
    for version in VERSIONS.iter().copied() {
        let key = load("rsa.crt", "rsa.key");
        let store = MapStore::default();
        let cb = store.callbacks();
        let (ka, kb) = (ticket_keys(K1).unwrap(), ticket_keys(&format!("# same key\n{}\n", K1)).unwrap());
        let a = config_with(&key, Some(&cb), false, Some(&ka));
        let b = config_with(&key, None, true, Some(&kb));
        let client = resuming_client_config(version);
        assert!(!resumed(&connect(&client, &a)));
        assert!(resumed(&connect(&client, &b)), "{:?}: b decrypts a's ticket", version.version);
        if version == &rustls::version::TLS13 {
            assert_eq!(*store.puts.lock().unwrap(), 0, "TLS 1.3 with tickets: nothing stored");
        }
    }
}

#[test]
fn rotated_keys_still_resume_old_tickets_but_dropped_keys_do_not() {
    for version in VERSIONS.iter().copied() {
        let key = load("rsa.crt", "rsa.key");
        let old = ticket_keys(K1).unwrap();
        let rotated = ticket_keys(&format!("{}\n{}\n", K2, K1)).unwrap();
        let only_new = ticket_keys(K2).unwrap();
        assert_eq!(tlsb_ticket_keys_count(rotated.0), 2);
        let a = config_with(&key, None, true, Some(&old));
        let b = config_with(&key, None, true, Some(&rotated));
        let c = config_with(&key, None, true, Some(&only_new));
        let client = resuming_client_config(version);
        connect(&client, &a);
        assert!(resumed(&connect(&client, &b)), "{:?}: old ticket, rotated file", version.version);
        // b issued a ticket with the new key, which c (new key only) accepts.
        assert!(resumed(&connect(&client, &c)), "{:?}: new ticket", version.version);
        // c's ticket is under K2; a (old key only) cannot read it.
        assert!(!resumed(&connect(&client, &a)), "{:?}: a does not know K2", version.version);
    }
}

#[test]
fn ticket_key_errors() {
    let e = ticket_keys("bogus").err().unwrap();
    assert_eq!(e.code, TLSB_ERR_CONFIG);
    assert!(e.message.contains("line 1"), "{}", e.message);
    assert!(ticket_keys("").is_err());
    let mut out = null_mut();
    assert_eq!(tlsb_ticket_keys_new(null(), 4, 300, &mut out, null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_ticket_keys_new(K1.as_ptr(), K1.len(), 300, null_mut(), null_mut()), TLSB_ERR_NULL);
    assert_eq!(tlsb_ticket_keys_new(K1.as_ptr(), K1.len(), 0, &mut out, null_mut()), TLSB_ERR_INVALID);
    assert!(out.is_null());
    assert_eq!(tlsb_ticket_keys_count(null()), 0);
    tlsb_ticket_keys_free(null_mut());
}

#[test]
fn a_store_without_callbacks_is_refused() {
    let key = load("rsa.crt", "rsa.key");
    let k = [key.0 as *const tlsb_certified_key];
    let empty = tlsb_session_store { user: null_mut(), put: None, get: None };
    let params = tlsb_server_config_params {
        versions: null(), versions_len: 0, suites: null(), suites_len: 0, groups: null(), groups_len: 0,
        keys: k.as_ptr(), keys_len: 1,
        honor_client_order: 0, alpn: null(), alpn_lens: null(), alpn_len: 0, client_verifier: null(),
        session_store: &empty, no_session_cache: 0, ticket_keys: null(),
        session_scope: null(), session_scope_len: 0,
    };
    let mut out = null_mut();
    assert_eq!(tlsb_server_config_new(&params, &mut out, null_mut()), TLSB_ERR_NULL);
    assert!(out.is_null());
}

#[test]
fn lookups_on_one_thread_return_exactly_the_stored_value() {
    // The lookup buffer is reused per thread: a short value found after a long one must come
    // back without the long one's tail, and a miss after a hit must stay a miss.
    use rustls::server::StoresServerSessions;
    let store = MapStore::default();
    let cb = session_store::CallbackStore::new(&store.callbacks()).unwrap();
    assert!(cb.put(b"long".to_vec(), vec![7u8; 5000]));
    assert!(cb.put(b"short".to_vec(), vec![1, 2, 3]));
    assert_eq!(cb.get(b"long"), Some(vec![7u8; 5000]));
    assert_eq!(cb.get(b"short"), Some(vec![1, 2, 3]));
    assert_eq!(cb.take(b"short"), Some(vec![1, 2, 3]));
    assert_eq!(cb.take(b"short"), None);
    assert_eq!(cb.get(b"missing"), None);
    assert!(!cb.put(b"huge".to_vec(), vec![0u8; session_store::MAX_SESSION_VALUE + 1]));
}
