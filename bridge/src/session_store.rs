//! A rustls session store that keeps sessions outside the process, through C callbacks: mod_tls
//! implements them with Apache's socache providers (shmcb, memcache, redis), so that a session
//! made by one worker process (or one server of a cluster) resumes in another.
//!
//! Keys and values are opaque bytes to the callee. rustls uses `get` for TLS 1.2 session IDs and
//! `take` (single use) for TLS 1.3 stateful tickets.

use std::cell::RefCell;
use std::os::raw::{c_int, c_void};

use rustls::server::StoresServerSessions;

use crate::ffi::UserPtr;

/// The largest session value stored; larger ones are not cached (so `get` can use one buffer).
pub const MAX_SESSION_VALUE: usize = 64 * 1024;

/// `tlsb_session_store` from tls_bridge.h.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tlsb_session_store {
    pub user: *mut c_void,
    pub put: Option<extern "C" fn(*mut c_void, *const u8, usize, *const u8, usize) -> c_int>,
    pub get: Option<extern "C" fn(*mut c_void, *const u8, usize, c_int, *mut u8, usize, *mut usize) -> c_int>,
}

/// The callbacks, checked to be present. The callee promises thread safety and that `user` lives
/// as long as every config built with it.
#[derive(Debug)]
pub struct CallbackStore {
    user: UserPtr,
    put: extern "C" fn(*mut c_void, *const u8, usize, *const u8, usize) -> c_int,
    get: extern "C" fn(*mut c_void, *const u8, usize, c_int, *mut u8, usize, *mut usize) -> c_int,
}

impl CallbackStore {
    pub fn new(s: &tlsb_session_store) -> Option<Self> {
        Some(CallbackStore { user: UserPtr(s.user), put: s.put?, get: s.get? })
    }

    fn lookup(&self, key: &[u8], remove: bool) -> Option<Vec<u8>> {
        // `try_*`: no lookup (rather than a panic) while the thread is being torn down, or if a
        // callback ever re-entered the store.
        LOOKUP_BUFFER
            .try_with(|cell| {
                let mut buf = cell.try_borrow_mut().ok()?;
                if buf.len() < MAX_SESSION_VALUE {
                    buf.resize(MAX_SESSION_VALUE, 0);
                }
                let mut len: usize = 0;
                let found = (self.get)(
                    self.user.0,
                    key.as_ptr(),
                    key.len(),
                    c_int::from(remove),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut len,
                );
                if found == 0 || len > buf.len() {
                    return None;
                }
                Some(buf[..len].to_vec())
            })
            .ok()
            .flatten()
    }
}

thread_local! {
    /// Where lookups land: one buffer per thread, allocated and zeroed once, so a lookup costs
    /// a copy of the session it found rather than a fresh 64 KiB buffer.
    static LOOKUP_BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::new());
}

impl StoresServerSessions for CallbackStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        if value.len() > MAX_SESSION_VALUE {
            return false;
        }
        (self.put)(self.user.0, key.as_ptr(), key.len(), value.as_ptr(), value.len()) != 0
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lookup(key, false)
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lookup(key, true)
    }
    fn can_cache(&self) -> bool {
        true
    }
}
