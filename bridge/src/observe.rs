//! What rustls 0.20 decides inside a handshake but does not report: which configured certificate
//! the resolver chose, and whether a stored session (or ticket) was found for resumption.
//!
//! rustls calls the resolver, the session store and the ticketer synchronously from inside the
//! connection call that processes the ClientHello (`Accepted::into_connection`,
//! `process_new_packets`). A connection runs those calls inside `observe`, which opens a
//! thread-local record; the wrappers below (installed once per ServerConfig by `instrument`) write
//! into the record of the connection being processed on their thread. Outside `observe` they only
//! delegate.
//!
//! Resumption is recorded when the store's `get`/`take` or the ticketer's `decrypt` returns a
//! session. rustls then resumes unless the session does not fit the new ClientHello (another
//! cipher suite or SNI; a well-behaved client does not offer such a session).

use std::cell::RefCell;
use std::sync::Arc;

use rustls::server::{ProducesTickets, StoresServerSessions};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// What one connection call revealed.
#[derive(Default)]
pub struct Observed {
    pub resumed: bool,
    pub key: Option<Arc<CertifiedKey>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Observed>> = RefCell::new(None);
}

/// Clears the record when `observe` ends, also by unwinding.
struct Scope;
impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// Runs `f` with a fresh record and returns its result and what was observed during it.
pub fn observe<R>(f: impl FnOnce() -> R) -> (R, Observed) {
    CURRENT.with(|c| *c.borrow_mut() = Some(Observed::default()));
    let scope = Scope;
    let r = f();
    let seen = CURRENT.with(|c| c.borrow_mut().take()).unwrap_or_default();
    drop(scope);
    (r, seen)
}

fn record(f: impl FnOnce(&mut Observed)) {
    CURRENT.with(|c| {
        if let Ok(mut cur) = c.try_borrow_mut() {
            if let Some(o) = cur.as_mut() {
                f(o);
            }
        }
    });
}

/// Called by the certificate resolver with its choice.
pub fn chose_key(key: &Arc<CertifiedKey>) {
    record(|o| o.key = Some(key.clone()));
}

fn found_session(found: bool) {
    if found {
        record(|o| o.resumed = true);
    }
}

/// Wraps the config's session store and ticketer so that their lookups are observed.
pub fn instrument(config: &mut ServerConfig) {
    config.session_storage = Arc::new(ObservedStore(config.session_storage.clone()));
    config.ticketer = Arc::new(ObservedTicketer(config.ticketer.clone()));
}

struct ObservedStore(Arc<dyn StoresServerSessions + Send + Sync>);

impl StoresServerSessions for ObservedStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.0.put(key, value)
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.0.get(key);
        found_session(v.is_some());
        v
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.0.take(key);
        found_session(v.is_some());
        v
    }
    fn can_cache(&self) -> bool {
        self.0.can_cache()
    }
}

struct ObservedTicketer(Arc<dyn ProducesTickets>);

impl ProducesTickets for ObservedTicketer {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.0.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.0.encrypt(plain)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let v = self.0.decrypt(cipher);
        found_session(v.is_some());
        v
    }
}
