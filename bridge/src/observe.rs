//! What rustls decides inside a call but does not report: which configured certificate the
//! resolver chose, and why our client-certificate verifier refused a certificate (in words that
//! name the certificate; rustls itself reports only the kind of error, which picks the alert).
//!
//! rustls calls the resolver and the verifier synchronously from inside the connection call that
//! processes the handshake (`Accepted::into_connection`, `process_new_packets`). A connection
//! runs those calls inside `observe`, which opens a thread-local record; `chose_key` and
//! `refused_because` write into the record of the connection being processed on their thread.
//! Outside `observe` they do nothing.

use std::cell::RefCell;
use std::sync::Arc;

use rustls::sign::CertifiedKey;

#[derive(Default)]
pub struct Observed {
    pub key: Option<Arc<CertifiedKey>>,
    /// The client certificate verifier's description of a refusal.
    pub refusal: Option<String>,
}

thread_local! {
    static CURRENT: RefCell<Option<Observed>> = const { RefCell::new(None) };
}

/// Closes the record even if `f` unwinds.
struct Scope;
impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// Runs `f` with a fresh record and returns what was observed during it.
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

/// The resolver chose `key` for the connection being processed.
pub fn chose_key(key: &Arc<CertifiedKey>) {
    record(|o| o.key = Some(key.clone()));
}

/// The client certificate verifier refused the certificate, for this reason.
pub fn refused_because(reason: String) {
    record(|o| o.refusal = Some(reason));
}
