//! The C ABI plumbing shared by every exported function: result codes, the error struct, and one
//! generic guard that null-checks handles, refuses poisoned ones and keeps panics from unwinding
//! into C (a caught panic poisons the handle it happened on).

use std::any::Any;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

/// `tlsb_result` from tls_bridge.h (a C enum: int-sized).
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum tlsb_result {
    TLSB_OK = 0,
    TLSB_HELLO_READY = 1,
    TLSB_WOULD_BLOCK = 2,
    TLSB_CLOSED = 3,
    TLSB_ERR_NULL = 100,
    TLSB_ERR_INVALID = 101,
    TLSB_ERR_PANIC = 102,
    TLSB_ERR_TLS = 103,
    TLSB_ERR_PEM = 104,
    TLSB_ERR_KEY = 105,
    TLSB_ERR_KEY_MISMATCH = 106,
    TLSB_ERR_CONFIG = 107,
    TLSB_ERR_BUFFER = 108,
    TLSB_ERR_IO = 109,
}

pub use tlsb_result::*;

/// `TLSB_NO_ALERT`: no alert applies.
pub const TLSB_NO_ALERT: u16 = 0xFFFF;

/// Capacity of `tlsb_error.message`, NUL included.
pub const MESSAGE_CAP: usize = 256;

/// `tlsb_error` from tls_bridge.h.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct tlsb_error {
    pub code: u32,
    pub alert_sent: u16,
    pub alert_received: u16,
    pub message: [c_char; MESSAGE_CAP],
}

/// An error on its way to C: the code, the alerts involved and a readable message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: tlsb_result,
    pub alert_sent: Option<u8>,
    pub alert_received: Option<u8>,
    pub message: String,
}

impl Failure {
    pub fn new(code: tlsb_result, message: impl Into<String>) -> Self {
        Failure { code, alert_sent: None, alert_received: None, message: message.into() }
    }

    pub fn null(what: &str) -> Self {
        Failure::new(TLSB_ERR_NULL, format!("a required pointer argument ({}) was NULL", what))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::new(TLSB_ERR_INVALID, message)
    }

    fn poisoned() -> Self {
        Failure::new(TLSB_ERR_PANIC, "the handle is poisoned by an earlier internal panic")
    }

    fn panic(payload: Box<dyn Any + Send>) -> Self {
        let what = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic payload".to_string()
        };
        Failure::new(TLSB_ERR_PANIC, format!("internal panic in the TLS bridge (caught): {}", what))
    }
}

pub type Res<T> = Result<T, Failure>;

/// Fills `err` (if not NULL) from `f` and returns its code.
pub fn report(err: *mut tlsb_error, f: Failure) -> tlsb_result {
    if !err.is_null() {
        // SAFETY: the caller passes a valid, writable tlsb_error or NULL.
        let e = unsafe { &mut *err };
        e.code = f.code as u32;
        e.alert_sent = f.alert_sent.map(u16::from).unwrap_or(TLSB_NO_ALERT);
        e.alert_received = f.alert_received.map(u16::from).unwrap_or(TLSB_NO_ALERT);
        let bytes = truncate_utf8(f.message.as_bytes(), MESSAGE_CAP - 1);
        for (dst, src) in e.message.iter_mut().zip(bytes.iter()) {
            *dst = *src as c_char;
        }
        e.message[bytes.len()] = 0;
    }
    f.code
}

/// The longest prefix of `b` of at most `max` bytes that does not split a UTF-8 character.
fn truncate_utf8(b: &[u8], max: usize) -> &[u8] {
    if b.len() <= max {
        return b;
    }
    let mut end = max;
    while end > 0 && (b[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    &b[..end]
}

/// Turns a body's result into the returned code, filling `err` on failure.
pub fn finish(err: *mut tlsb_error, r: Res<tlsb_result>) -> tlsb_result {
    match r {
        Ok(code) => code,
        Err(f) => report(err, f),
    }
}

/// A bridge object handed to C as an opaque pointer; it can be poisoned by a caught panic.
pub trait Handle {
    fn poison_flag(&self) -> &AtomicBool;
    /// A call from inside a C callback of this handle (tlsb_conn_send_tls's sink) is refused.
    fn in_use(&self) -> bool {
        false
    }
}

/// Runs `body` with panics caught. Without a handle (`h` = None), a panic only becomes `fail`.
fn run<T: Handle, R>(h: Option<*const T>, fail: impl FnOnce(Failure) -> R, body: impl FnOnce() -> R) -> R {
    if let Some(h) = h {
        if h.is_null() {
            return fail(Failure::null("handle"));
        }
        // SAFETY: non-NULL handles come from this crate's constructors and are alive.
        if unsafe { (*h).poison_flag().load(Ordering::SeqCst) } {
            return fail(Failure::poisoned());
        }
        // SAFETY: as above; no other reference to *h is alive while its callback runs.
        if unsafe { (*h).in_use() } {
            return fail(Failure::invalid("the handle was called from inside its own callback (the send_tls sink)"));
        }
    }
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => {
            if let Some(h) = h {
                // SAFETY: as above; the body's borrow of *h ended with the unwind.
                unsafe { (*h).poison_flag().store(true, Ordering::SeqCst) };
            }
            fail(Failure::panic(payload))
        }
    }
}

/// A handle-less call (constructors, static queries) with panics caught.
pub fn call(err: *mut tlsb_error, body: impl FnOnce() -> Res<tlsb_result>) -> tlsb_result {
    run::<NoHandle, _>(None, |f| report(err, f), || finish(err, body()))
}

/// A call on a mutable handle.
pub fn with_mut<T: Handle>(
    h: *mut T,
    err: *mut tlsb_error,
    body: impl FnOnce(&mut T) -> Res<tlsb_result>,
) -> tlsb_result {
    // SAFETY: `run` only invokes the body for a non-NULL handle.
    run(Some(h as *const T), |f| report(err, f), || finish(err, body(unsafe { &mut *h })))
}

/// A call on a shared handle.
pub fn with_ref<T: Handle>(
    h: *const T,
    err: *mut tlsb_error,
    body: impl FnOnce(&T) -> Res<tlsb_result>,
) -> tlsb_result {
    // SAFETY: `run` only invokes the body for a non-NULL handle.
    run(Some(h), |f| report(err, f), || finish(err, body(unsafe { &*h })))
}

/// A handle-less query returning a plain value (static names, versions); `default` on panic.
pub fn guarded<R>(default: R, body: impl FnOnce() -> R) -> R {
    run::<NoHandle, _>(None, |_| default, body)
}

/// A handle passed inside another call's arguments (a key in a config's params, a config given
/// to a connection): NULL and poisoned handles are refused, as for the handle a call is made on.
pub fn borrow<'a, T: Handle>(h: *const T, what: &str) -> Res<&'a T> {
    if h.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: non-NULL handles come from this crate's constructors and are alive for the call.
    let r = unsafe { &*h };
    if r.poison_flag().load(Ordering::SeqCst) {
        return Err(Failure::poisoned());
    }
    Ok(r)
}

/// The caller's context pointer of a C callback table (the session store). The bridge never
/// dereferences it, only hands it back to the callbacks.
#[derive(Clone, Copy, Debug)]
pub struct UserPtr(pub *mut std::ffi::c_void);

// SAFETY: tls_bridge.h requires the callbacks to be callable from any thread with this pointer
// at the same time (the store is shared by all connections of all threads); the bridge itself
// only passes it through.
unsafe impl Send for UserPtr {}
unsafe impl Sync for UserPtr {}

/// A query returning a plain value; `default` on NULL, poison or panic.
pub fn value<T: Handle, R: Copy>(h: *const T, default: R, body: impl FnOnce(&T) -> R) -> R {
    // SAFETY: `run` only invokes the body for a non-NULL handle.
    run(Some(h), |_| default, || body(unsafe { &*h }))
}

/// Frees a handle made by `into_handle` (NULL is fine). A panic in a destructor is swallowed.
pub fn free_handle<T>(h: *mut T) {
    if h.is_null() {
        return;
    }
    // SAFETY: `h` came from `into_handle` and is freed once, as the header requires.
    let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(h) })));
}

pub fn into_handle<T>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}

struct NoHandle;
impl Handle for NoHandle {
    fn poison_flag(&self) -> &AtomicBool {
        unreachable!("NoHandle is never instantiated")
    }
}

/// An input byte span; NULL is accepted only with length 0.
pub fn in_bytes<'a>(p: *const u8, len: usize, what: &str) -> Res<&'a [u8]> {
    if len == 0 {
        Ok(&[])
    } else if p.is_null() {
        Err(Failure::null(what))
    } else {
        // SAFETY: the caller guarantees `p` points to `len` readable bytes.
        Ok(unsafe { std::slice::from_raw_parts(p, len) })
    }
}

/// An input array of `T`; NULL is accepted only with length 0.
pub fn in_array<'a, T>(p: *const T, len: usize, what: &str) -> Res<&'a [T]> {
    if len == 0 {
        Ok(&[])
    } else if p.is_null() {
        Err(Failure::null(what))
    } else {
        // SAFETY: the caller guarantees `p` points to `len` valid elements.
        Ok(unsafe { std::slice::from_raw_parts(p, len) })
    }
}

/// An output byte buffer; NULL is accepted only with capacity 0.
pub fn out_bytes<'a>(p: *mut u8, cap: usize, what: &str) -> Res<&'a mut [u8]> {
    if cap == 0 {
        Ok(&mut [])
    } else if p.is_null() {
        Err(Failure::null(what))
    } else {
        // SAFETY: the caller guarantees `p` points to `cap` writable bytes.
        Ok(unsafe { std::slice::from_raw_parts_mut(p, cap) })
    }
}

/// A required out-parameter.
pub fn out<'a, T>(p: *mut T, what: &str) -> Res<&'a mut T> {
    if p.is_null() {
        Err(Failure::null(what))
    } else {
        // SAFETY: the caller passes a valid, writable pointer.
        Ok(unsafe { &mut *p })
    }
}

/// Stores a byte span into the (ptr, len) out-parameters. An empty span gets a non-NULL pointer.
pub fn put_span(ptr_out: &mut *const u8, len_out: &mut usize, span: &[u8]) {
    *ptr_out = if span.is_empty() { EMPTY.as_ptr() } else { span.as_ptr() };
    *len_out = span.len();
}

static EMPTY: [u8; 1] = [0];

/// A `'static` NUL-terminated byte string as a C string.
pub fn cstr(s: &'static [u8]) -> *const c_char {
    debug_assert_eq!(s.last(), Some(&0));
    s.as_ptr() as *const c_char
}
