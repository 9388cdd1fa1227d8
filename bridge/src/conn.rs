//! The connection state machine. Server side: Acceptor until the ClientHello is complete, then the
//! caller picks a config (or rejects), then a rustls ServerConnection. Client side (backends):
//! idle with its config until the caller names the server and ALPN, then a ClientConnection.
//! Both sides share read_tls/process/send_tls/read_plain/write_plain once connected.

use std::ffi::c_void;
use std::io::{ErrorKind, IoSlice, Read};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustls::server::{Accepted, AcceptedAlert, Acceptor};
use rustls::sign::CertifiedKey;
use rustls::{Connection, HandshakeKind};

use crate::alerts::*;
use crate::client::ClientConfigs;
use crate::config::tlsb_server_config;
use crate::ffi::*;
use crate::names::alert_str;
use crate::observe::{observe, Observed};

enum State {
    /// Waiting for the complete ClientHello.
    Accepting(Acceptor),
    /// The ClientHello is in; the caller chooses a config or rejects.
    HelloReady(Box<Accepted>),
    /// Client side: waiting for start_client (the server name and ALPN come with the request).
    ClientIdle(Arc<ClientConfigs>),
    /// Handshaking or established (also after a protocol error: rustls keeps the alert queued).
    Connected(Box<Connection>),
    /// The rustls connection is out, lending its records to a send_tls sink.
    Lending,
    /// Dead before a ServerConnection existed; the alert record (if any) is in `out`.
    Failed,
}

/// What the client sent in its ClientHello, copied so it can be lent to C.
#[derive(Default)]
struct Hello {
    sni: Vec<u8>,
    alpn: Vec<Vec<u8>>,
    sig_schemes: Vec<u16>,
    suites: Vec<u16>,
}

/// Enough of the first bytes to recognise plain HTTP, for diagnostics; released once the
/// ClientHello has been read.
const FIRST_BYTES: usize = 16;
/// Bytes the bridge holds for the caller between HELLO_READY and select_config.
const HELD_TLS_LIMIT: usize = 64 * 1024;

#[allow(non_camel_case_types)]
pub struct tlsb_conn {
    state: State,
    hello: Option<Hello>,
    /// The peer closed the transport (an empty read_tls).
    eof: bool,
    /// Total TLS bytes taken from the peer, and the first few of them.
    fed: usize,
    first: Vec<u8>,
    /// TLS bytes fed while HelloReady, replayed into the ServerConnection.
    held_tls: Vec<u8>,
    /// Plaintext written before a ServerConnection existed.
    held_plain: Vec<u8>,
    /// Bytes for send_tls produced before a rustls connection existed (an alert).
    out: Vec<u8>,
    /// The error that killed the connection; repeated by later calls.
    failure: Option<Failure>,
    close_notify_sent: bool,
    /// The certified key the resolver chose: the certificate chain sent.
    server_key: Option<Arc<CertifiedKey>>,
    /// A client (backend) connection: errors name the server as the peer.
    is_client: bool,
    /// The server name a client connection verifies and sends as SNI.
    client_name: Vec<u8>,
    /// Set while send_tls lends records to the C sink: a call on this handle from the sink is
    /// refused (the connection is out of the handle meanwhile; see tlsb_conn_send_tls).
    lending: AtomicBool,
    poisoned: AtomicBool,
}

impl Handle for tlsb_conn {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
    fn in_use(&self) -> bool {
        self.lending.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
thread_local! {
    /// Test hook: makes tlsb_conn_process panic.
    pub static PANIC_IN_PROCESS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl tlsb_conn {
    pub fn new() -> Self {
        tlsb_conn {
            state: State::Accepting(Acceptor::default()),
            hello: None,
            eof: false,
            fed: 0,
            first: Vec::new(),
            held_tls: Vec::new(),
            held_plain: Vec::new(),
            out: Vec::new(),
            failure: None,
            close_notify_sent: false,
            server_key: None,
            is_client: false,
            client_name: Vec::new(),
            lending: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
        }
    }

    /// A client connection that waits for start_client.
    pub fn new_client(configs: Arc<ClientConfigs>) -> Self {
        let mut c = tlsb_conn::new();
        c.state = State::ClientIdle(configs);
        c.is_client = true;
        c
    }

    /// Starts the client handshake to `server_name` offering `alpn` (empty: no ALPN).
    pub fn start_client(&mut self, server_name: &str, alpn: Vec<Vec<u8>>) -> Res<tlsb_result> {
        self.check_alive()?;
        let configs = match &self.state {
            State::ClientIdle(c) => c.clone(),
            _ => return Err(Failure::invalid("start_client is only valid once, on a client connection")),
        };
        let name = crate::client::server_name(server_name)?;
        let mut conn = rustls::ClientConnection::new(configs.for_alpn(alpn), name)
            .map_err(|e| Failure::new(TLSB_ERR_CONFIG, format!("cannot start the TLS client: {}", e)))?;
        conn.set_buffer_limit(None);
        let mut conn = Connection::Client(conn);
        if !self.held_plain.is_empty() {
            let plain = std::mem::take(&mut self.held_plain);
            write_all(&mut conn, &plain)?;
        }
        self.state = State::Connected(Box::new(conn));
        self.client_name = server_name.as_bytes().to_vec();
        Ok(TLSB_OK)
    }

    pub fn is_client(&self) -> bool {
        self.is_client
    }

    /// The server name of a started client connection.
    pub fn client_server_name(&self) -> Option<&[u8]> {
        if self.client_name.is_empty() {
            None
        } else {
            Some(&self.client_name)
        }
    }

    fn check_alive(&self) -> Res<()> {
        match &self.failure {
            Some(f) => Err(f.clone()),
            None => Ok(()),
        }
    }

    /// Records a fatal failure before a rustls connection exists; `alert` holds the alert
    /// rustls made for it (if any), else one is made for the failure's alert.
    fn fail_early(&mut self, mut f: Failure, alert: Option<AcceptedAlert>) -> Failure {
        match alert {
            Some(mut a) => {
                let mut out = Vec::new();
                while let Ok(n) = a.write(&mut out) {
                    if n == 0 {
                        break;
                    }
                }
                // Before encryption the alert is one plaintext record: report what is sent.
                if let [0x15, 0x03, _, 0x00, 0x02, 0x02, description] = out[..] {
                    f.alert_sent = Some(description);
                }
                self.out = out;
            }
            None => {
                if let Some(a) = f.alert_sent {
                    self.out = fatal_alert_record(a);
                }
            }
        }
        self.state = State::Failed;
        self.fail(f)
    }

    /// Records a fatal failure; later calls repeat it.
    fn fail(&mut self, f: Failure) -> Failure {
        self.failure = Some(f.clone());
        f
    }

    pub fn read_tls(&mut self, buf: &[u8]) -> Res<usize> {
        self.check_alive()?;
        if buf.is_empty() {
            self.eof = true;
        }
        let mut rd = buf;
        let n = match &mut self.state {
            State::Accepting(a) => feed(|r| a.read_tls(r), &mut rd)?,
            State::Connected(c) => feed(|r| c.read_tls(r), &mut rd)?,
            State::HelloReady(_) => {
                let n = buf.len().min(HELD_TLS_LIMIT.saturating_sub(self.held_tls.len()));
                self.held_tls.extend_from_slice(&buf[..n]);
                n
            }
            State::Failed => 0,
            State::Lending => return Err(lending()),
            State::ClientIdle(_) => return Err(Failure::invalid("the client connection has not been started")),
        };
        if matches!(self.state, State::Accepting(_)) && self.first.len() < FIRST_BYTES {
            let take = n.min(FIRST_BYTES - self.first.len());
            self.first.extend_from_slice(&buf[..take]);
        }
        self.fed += n;
        Ok(n)
    }

    pub fn process(&mut self) -> Res<tlsb_result> {
        #[cfg(test)]
        {
            if PANIC_IN_PROCESS.with(|p| p.get()) {
                panic!("forced panic (test hook)");
            }
        }
        self.check_alive()?;
        let accepted = match &mut self.state {
            State::Accepting(a) => a.accept(),
            State::HelloReady(_) => return Ok(TLSB_HELLO_READY),
            State::Connected(_) => return self.process_connected(),
            State::Failed => return Err(Failure::invalid("the connection has failed")),
            State::Lending => return Err(lending()),
            State::ClientIdle(_) => return Ok(TLSB_OK),
        };
        match accepted {
            Ok(None) if self.eof => {
                let msg = if self.fed == 0 {
                    "connection closed before any TLS data was received"
                } else {
                    "connection closed before the ClientHello was complete"
                };
                Err(self.fail_early(Failure::new(TLSB_ERR_TLS, msg), None))
            }
            Ok(None) => Ok(TLSB_OK),
            Ok(Some(acc)) => {
                let ch = acc.client_hello();
                self.hello = Some(Hello {
                    sni: ch.server_name().map(|s| s.as_bytes().to_vec()).unwrap_or_default(),
                    alpn: ch.alpn().map(|i| i.map(|p| p.to_vec()).collect()).unwrap_or_default(),
                    sig_schemes: ch.signature_schemes().iter().map(|s| u16::from(*s)).collect(),
                    suites: ch.cipher_suites().iter().map(|s| u16::from(*s)).collect(),
                });
                self.state = State::HelloReady(Box::new(acc));
                self.first = Vec::new();
                Ok(TLSB_HELLO_READY)
            }
            Err((e, alert)) => {
                let mut f = tls_failure("reading the ClientHello failed", &e);
                if let Some(method) = plain_http_method(&self.first) {
                    f.message = format!(
                        "the client spoke plain HTTP to a TLS port (it sent an HTTP {} request \
                         instead of a TLS ClientHello)",
                        method
                    );
                } else if matches!(e, rustls::Error::InvalidMessage(_)) {
                    f.message = format!(
                        "reading the ClientHello failed: the client sent data that is not TLS ({})",
                        e
                    );
                }
                Err(self.fail_early(f, Some(alert)))
            }
        }
    }

    fn process_connected(&mut self) -> Res<tlsb_result> {
        let eof = self.eof;
        let is_client = self.is_client;
        let c = match &mut self.state {
            State::Connected(c) => c,
            _ => return Err(Failure::invalid("not connected")),
        };
        let handshaking = c.is_handshaking();
        let (processed, seen) = observe(|| c.process_new_packets().map(|_| ()));
        let still_handshaking = c.is_handshaking();
        let refusal = self.note(seen);
        match processed {
            Ok(()) if eof && still_handshaking => {
                Err(self.fail(Failure::new(TLSB_ERR_TLS, "connection closed during the handshake")))
            }
            Ok(()) => Ok(TLSB_OK),
            Err(e) => {
                let phase = if handshaking { "handshake failed" } else { "TLS error" };
                let mut f = if is_client { crate::client::client_failure(phase, &e) } else { tls_failure(phase, &e) };
                if let Some(why) = refusal {
                    f.message = format!("{}: {}", phase, why);
                }
                Err(self.fail(f))
            }
        }
    }

    /// Keeps what rustls revealed during one call; returns the verifier's refusal, if any.
    fn note(&mut self, seen: Observed) -> Option<String> {
        if seen.key.is_some() {
            self.server_key = seen.key;
        }
        seen.refusal
    }

    /// Whether the handshake resumed a stored session (meaningful once it is complete).
    pub fn is_resumed(&self) -> bool {
        self.conn().and_then(|c| c.handshake_kind()) == Some(HandshakeKind::Resumed)
    }

    /// The IANA id of the negotiated key exchange group (0 before it is known; a resumption
    /// without a new key exchange has none).
    pub fn kx_group(&self) -> u16 {
        self.conn()
            .and_then(|c| c.negotiated_key_exchange_group())
            .map(crate::groups::group_id)
            .unwrap_or(0)
    }

    /// The certificate chain sent to the client (end-entity first); empty before it is chosen.
    pub fn server_chain(&self) -> &[rustls::pki_types::CertificateDer<'static>] {
        self.server_key.as_ref().map(|k| k.cert.as_slice()).unwrap_or(&[])
    }

    fn hello(&self) -> Res<&Hello> {
        self.hello.as_ref().ok_or_else(|| Failure::invalid("the ClientHello has not been received yet"))
    }

    pub fn select_config(&mut self, config: &tlsb_server_config, alpn: &[u8]) -> Res<tlsb_result> {
        self.check_alive()?;
        if !matches!(self.state, State::HelloReady(_)) {
            return Err(Failure::invalid("select_config is only valid after TLSB_HELLO_READY"));
        }
        let cfg = config.for_alpn(alpn).ok_or_else(|| {
            Failure::invalid(format!(
                "ALPN protocol \"{}\" is not in the config's ALPN list",
                String::from_utf8_lossy(alpn)
            ))
        })?;
        let acc = match std::mem::replace(&mut self.state, State::Failed) {
            State::HelloReady(acc) => acc,
            _ => unreachable!("checked above"),
        };
        let (conn, seen) = observe(|| acc.into_connection(cfg));
        self.note(seen);
        let mut conn = match conn {
            Ok(c) => Connection::Server(c),
            Err((e, alert)) => return Err(self.fail_early(tls_failure("handshake failed", &e), Some(alert))),
        };
        conn.set_buffer_limit(None);
        let held = std::mem::take(&mut self.held_tls);
        let mut rd: &[u8] = &held;
        while !rd.is_empty() {
            let n = feed(|r| conn.read_tls(r), &mut rd)?;
            if n == 0 {
                // The deframer is full: process what it holds and retry.
                let (processed, seen) = observe(|| conn.process_new_packets().map(|_| ()));
                let refusal = self.note(seen);
                if let Err(e) = processed {
                    self.state = State::Connected(Box::new(conn));
                    let mut f = tls_failure("handshake failed", &e);
                    if let Some(why) = refusal {
                        f.message = format!("handshake failed: {}", why);
                    }
                    return Err(self.fail(f));
                }
                if feed(|r| conn.read_tls(r), &mut rd)? == 0 {
                    break;
                }
            }
        }
        if self.eof {
            let _ = conn.read_tls(&mut &[][..]);
        }
        if !self.held_plain.is_empty() {
            let plain = std::mem::take(&mut self.held_plain);
            write_all(&mut conn, &plain)?;
        }
        self.state = State::Connected(Box::new(conn));
        // Handle records that arrived right behind the ClientHello.
        self.process_connected()
    }

    pub fn reject(&mut self, alert: u16) -> Res<tlsb_result> {
        self.check_alive()?;
        let alert = u8::try_from(alert).map_err(|_| Failure::invalid("an alert description is 0-255"))?;
        if !matches!(self.state, State::Accepting(_) | State::HelloReady(_)) {
            return Err(Failure::invalid("reject is only valid before select_config"));
        }
        let f = Failure {
            code: TLSB_ERR_TLS,
            alert_sent: Some(alert),
            alert_received: None,
            message: format!("the ClientHello was rejected with alert {}", alert_str(alert)),
        };
        self.fail_early(f, None);
        Ok(TLSB_OK)
    }

    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
            || match &self.state {
                State::Connected(c) => c.wants_write(),
                _ => false,
            }
    }

    /// Takes the queued TLS bytes out of the handle for lending (tlsb_conn_send_tls): while the
    /// sink runs, nothing of them is reachable through the handle.
    fn begin_lending(&mut self) -> Lent {
        let conn = match std::mem::replace(&mut self.state, State::Lending) {
            State::Connected(c) => Some(c),
            other => {
                self.state = other;
                None
            }
        };
        self.lending.store(true, Ordering::SeqCst);
        Lent { early: std::mem::take(&mut self.out), conn }
    }

    /// Puts the connection back after lending; `early` holds the bytes the sink refused.
    fn end_lending(&mut self, lent: Lent) {
        if let Some(c) = lent.conn {
            self.state = State::Connected(c);
        }
        self.out = lent.early;
        self.lending.store(false, Ordering::SeqCst);
    }

    pub fn is_handshaking(&self) -> bool {
        match &self.state {
            State::Connected(c) => c.is_handshaking(),
            _ => true,
        }
    }

    pub fn read_plain(&mut self, buf: &mut [u8]) -> Res<(tlsb_result, usize)> {
        self.check_alive()?;
        if buf.is_empty() {
            return Err(Failure::new(TLSB_ERR_BUFFER, "read_plain needs a buffer with room"));
        }
        let eof = self.eof;
        let c = match &mut self.state {
            State::Connected(c) => c,
            _ => return Ok((TLSB_WOULD_BLOCK, 0)),
        };
        match c.reader().read(buf) {
            Ok(0) => Ok((TLSB_CLOSED, 0)),
            Ok(n) => Ok((TLSB_OK, n)),
            Err(e) if e.kind() == ErrorKind::WouldBlock && !eof => Ok((TLSB_WOULD_BLOCK, 0)),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::UnexpectedEof => {
                let f = Failure::new(TLSB_ERR_TLS, "peer closed the connection without close_notify");
                Err(self.fail(f))
            }
            Err(e) => Err(self.fail(Failure::new(TLSB_ERR_TLS, format!("reading plaintext failed: {}", e)))),
        }
    }

    pub fn write_plain(&mut self, buf: &[u8]) -> Res<usize> {
        self.check_alive()?;
        match &mut self.state {
            State::Connected(c) => write_all(c, buf)?,
            _ => self.held_plain.extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    pub fn send_close_notify(&mut self) {
        if self.close_notify_sent {
            return;
        }
        if let State::Connected(c) = &mut self.state {
            c.send_close_notify();
            self.close_notify_sent = true;
        }
    }

    pub fn conn(&self) -> Option<&Connection> {
        match &self.state {
            State::Connected(c) => Some(c),
            _ => None,
        }
    }

    pub fn hello_sni(&self) -> Res<&[u8]> {
        Ok(&self.hello()?.sni)
    }
    pub fn hello_alpn(&self) -> Res<&[Vec<u8>]> {
        Ok(&self.hello()?.alpn)
    }
    pub fn hello_sig_schemes(&self) -> Res<&[u16]> {
        Ok(&self.hello()?.sig_schemes)
    }
    pub fn hello_suites(&self) -> Res<&[u16]> {
        Ok(&self.hello()?.suites)
    }
}

fn lending() -> Failure {
    Failure::invalid("the connection is lending its TLS records to the send_tls sink; the sink must not call back into it")
}

/// Feeds from `rd` with `read`; a full buffer takes 0 bytes (the caller processes, then retries).
fn feed(read: impl FnOnce(&mut dyn Read) -> std::io::Result<usize>, rd: &mut &[u8]) -> Res<usize> {
    match read(rd) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == ErrorKind::Other => Ok(0),
        Err(e) => Err(Failure::new(TLSB_ERR_TLS, format!("read_tls failed: {}", e))),
    }
}

/// Buffers all of `buf` (the buffer limit is off, so rustls takes everything).
fn write_all(c: &mut Connection, buf: &[u8]) -> Res<()> {
    use std::io::Write;
    c.writer()
        .write_all(buf)
        .map_err(|e| Failure::new(TLSB_ERR_TLS, format!("writing plaintext failed: {}", e)))
}

/// At most this many records are lent at once (TLSB_SEND_BATCH_MAX in tls_bridge.h; rustls
/// offers up to 64 per vectored write).
pub const MAX_BATCH: usize = 64;

/// What send_tls took out of the handle: the bridge's own early bytes (an alert made before
/// rustls had a connection) and the rustls connection whose queue is lent.
struct Lent {
    early: Vec<u8>,
    conn: Option<Box<Connection>>,
}

impl Lent {
    /// Lends the queued TLS bytes to `sink` without copying them: whole records straight from
    /// rustls's queue, a batch at a time. A batch is valid only during the call: the sink sends
    /// or copies all of it and returns true, or returns false to stop (TLSB_ERR_IO; the refused
    /// batch stays queued, and the caller closes the connection). Returns the bytes accepted.
    fn send(&mut self, sink: &mut dyn FnMut(&[IoSlice<'_>]) -> bool) -> Res<usize> {
        let refused = || Failure::new(TLSB_ERR_IO, "the transport refused the TLS bytes");
        let mut sent = 0;
        if !self.early.is_empty() {
            if !sink(&[IoSlice::new(&self.early)]) {
                return Err(refused());
            }
            sent = self.early.len();
            self.early.clear();
        }
        if let Some(c) = &mut self.conn {
            let mut lender = Lender { sink, refused: false };
            while c.wants_write() {
                match c.write_tls(&mut lender) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(_) if lender.refused => return Err(refused()),
                    Err(e) => return Err(Failure::new(TLSB_ERR_TLS, format!("write_tls failed: {}", e))),
                }
            }
        }
        Ok(sent)
    }
}

/// The writer for rustls's write_tls: hands each batch of queued records (rustls queues one per
/// chunk) to the sink whole, so rustls never copies the rest of a half-taken record, and reports
/// all of it written once the sink accepted it.
struct Lender<'a, 'b> {
    sink: &'a mut (dyn FnMut(&[IoSlice<'_>]) -> bool + 'b),
    refused: bool,
}

impl std::io::Write for Lender<'_, '_> {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<usize> {
        self.write_vectored(&[IoSlice::new(chunk)])
    }

    fn write_vectored(&mut self, chunks: &[IoSlice<'_>]) -> std::io::Result<usize> {
        // A vectored write may take less than offered; rustls offers the rest again.
        let batch = &chunks[..chunks.len().min(MAX_BATCH)];
        if !(self.sink)(batch) {
            self.refused = true;
            return Err(std::io::Error::new(ErrorKind::Other, "the sink refused the records"));
        }
        Ok(batch.iter().map(|c| c.len()).sum())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---- the C ABI: connections -----------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_conn_new_server(out: *mut *mut tlsb_conn) -> tlsb_result {
    call(std::ptr::null_mut(), || {
        let out = crate::ffi::out(out, "out")?;
        *out = into_handle(tlsb_conn::new());
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_free(conn: *mut tlsb_conn) {
    free_handle(conn)
}

#[no_mangle]
pub extern "C" fn tlsb_conn_read_tls(
    conn: *mut tlsb_conn,
    buf: *const u8,
    len: usize,
    consumed: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let consumed = crate::ffi::out(consumed, "consumed")?;
        *consumed = 0;
        *consumed = c.read_tls(in_bytes(buf, len, "buf")?)?;
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_process(conn: *mut tlsb_conn, err: *mut tlsb_error) -> tlsb_result {
    with_mut(conn, err, |c| c.process())
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_sni(conn: *const tlsb_conn, name: *mut *const u8, len: *mut usize) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let name = crate::ffi::out(name, "name")?;
        let len = crate::ffi::out(len, "len")?;
        put_span(name, len, c.hello_sni()?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_alpn_count(conn: *const tlsb_conn) -> usize {
    value(conn, 0, |c| c.hello_alpn().map(|a| a.len()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_alpn(
    conn: *const tlsb_conn,
    index: usize,
    proto: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let proto = crate::ffi::out(proto, "proto")?;
        let len = crate::ffi::out(len, "len")?;
        let p = c.hello_alpn()?.get(index).ok_or_else(|| Failure::invalid("ALPN index out of range"))?;
        put_span(proto, len, p);
        Ok(TLSB_OK)
    })
}

fn put_u16s<'a>(
    ptr_out: *mut *const u16,
    count_out: *mut usize,
    get: impl FnOnce() -> Res<&'a [u16]>,
) -> Res<tlsb_result> {
    let ptr_out = crate::ffi::out(ptr_out, "out array")?;
    let count_out = crate::ffi::out(count_out, "count")?;
    let v = get()?;
    static EMPTY_U16: [u16; 1] = [0];
    *ptr_out = if v.is_empty() { EMPTY_U16.as_ptr() } else { v.as_ptr() };
    *count_out = v.len();
    Ok(TLSB_OK)
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_signature_schemes(
    conn: *const tlsb_conn,
    schemes: *mut *const u16,
    count: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| put_u16s(schemes, count, || c.hello_sig_schemes()))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_hello_cipher_suites(
    conn: *const tlsb_conn,
    suites: *mut *const u16,
    count: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| put_u16s(suites, count, || c.hello_suites()))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_select_config(
    conn: *mut tlsb_conn,
    config: *const tlsb_server_config,
    alpn: *const u8,
    alpn_len: usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let config = borrow(config, "config")?;
        let alpn = in_bytes(alpn, alpn_len, "alpn")?;
        c.select_config(config, alpn)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_reject(conn: *mut tlsb_conn, alert: u16, err: *mut tlsb_error) -> tlsb_result {
    with_mut(conn, err, |c| c.reject(alert))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_wants_write(conn: *const tlsb_conn) -> c_int {
    value(conn, 0, |c| c_int::from(c.wants_write()))
}

/// One queued TLS record of a batch lent to a `tlsb_tls_sink`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tlsb_slice {
    pub data: *const u8,
    pub len: usize,
}

/// Receives a batch of TLS bytes; returns nonzero once all of it was sent or copied, 0 to stop.
#[allow(non_camel_case_types)]
pub type tlsb_tls_sink = Option<unsafe extern "C" fn(ctx: *mut c_void, batch: *const tlsb_slice, count: usize) -> c_int>;

#[no_mangle]
pub extern "C" fn tlsb_conn_send_tls(
    conn: *mut tlsb_conn,
    sink: tlsb_tls_sink,
    ctx: *mut c_void,
    sent: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    // Three steps, so that no Rust reference to the handle is alive while C code (the sink) runs:
    // take the queued records out of the handle, lend them, put back what is left. A sink that
    // calls back into the handle meanwhile gets TLSB_ERR_INVALID (Handle::in_use).
    let mut lent = None;
    let taken = with_mut(conn, err, |c| {
        let sent = crate::ffi::out(sent, "sent")?;
        *sent = 0;
        sink.ok_or_else(|| Failure::null("sink"))?;
        lent = Some(c.begin_lending());
        Ok(TLSB_OK)
    });
    let (Some(mut lent), Some(sink)) = (lent, sink) else { return taken };
    let result = call(err, || {
        let mut lend = |chunks: &[IoSlice<'_>]| {
            let mut batch = [tlsb_slice { data: std::ptr::null(), len: 0 }; MAX_BATCH];
            for (slot, c) in batch.iter_mut().zip(chunks) {
                *slot = tlsb_slice { data: c.as_ptr(), len: c.len() };
            }
            let count = chunks.len().min(MAX_BATCH); // send never lends more
            // SAFETY: the slices point into the queue `lent` owns, alive until this call returns;
            // the header requires the sink not to keep them and not to unwind.
            unsafe { sink(ctx, batch.as_ptr(), count) != 0 }
        };
        let n = lent.send(&mut lend)?;
        // SAFETY: `sent` was checked non-NULL above; no reference to it is alive.
        unsafe { *sent = n };
        Ok(TLSB_OK)
    });
    // The handle is in use (lending), so only end_lending's direct access can put it back.
    // SAFETY: `conn` was non-NULL and alive above; the sink's calls have all returned.
    let c = unsafe { &mut *conn };
    c.end_lending(lent);
    if result == TLSB_ERR_PANIC {
        c.poisoned.store(true, Ordering::SeqCst); // as for a panic in any other call on it
    }
    result
}

#[no_mangle]
pub extern "C" fn tlsb_conn_is_handshaking(conn: *const tlsb_conn) -> c_int {
    value(conn, 0, |c| c_int::from(c.is_handshaking()))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_read_plain(
    conn: *mut tlsb_conn,
    buf: *mut u8,
    cap: usize,
    n: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let n = crate::ffi::out(n, "n")?;
        *n = 0;
        let (code, got) = c.read_plain(out_bytes(buf, cap, "buf")?)?;
        *n = got;
        Ok(code)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_write_plain(
    conn: *mut tlsb_conn,
    buf: *const u8,
    len: usize,
    n: *mut usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let n = crate::ffi::out(n, "n")?;
        *n = 0;
        *n = c.write_plain(in_bytes(buf, len, "buf")?)?;
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_send_close_notify(conn: *mut tlsb_conn) -> tlsb_result {
    with_mut(conn, std::ptr::null_mut(), |c| {
        c.send_close_notify();
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_protocol_version(conn: *const tlsb_conn) -> u16 {
    value(conn, 0, |c| c.conn().and_then(|s| s.protocol_version()).map(u16::from).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_cipher_suite(conn: *const tlsb_conn) -> u16 {
    value(conn, 0, |c| {
        c.conn().and_then(|s| s.negotiated_cipher_suite()).map(|s| u16::from(s.suite())).unwrap_or(0)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_alpn(conn: *const tlsb_conn, proto: *mut *const u8, len: *mut usize) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let proto = crate::ffi::out(proto, "proto")?;
        let len = crate::ffi::out(len, "len")?;
        put_span(proto, len, c.conn().and_then(|s| s.alpn_protocol()).unwrap_or(&[]));
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_sni(conn: *const tlsb_conn, name: *mut *const u8, len: *mut usize) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let name = crate::ffi::out(name, "name")?;
        let len = crate::ffi::out(len, "len")?;
        let sni = match c.conn() {
            Some(rustls::Connection::Server(s)) => s.server_name().map(|n| n.as_bytes()),
            Some(rustls::Connection::Client(_)) => c.client_server_name(),
            None => None,
        };
        let sni = match sni {
            Some(s) => s,
            None => c.hello_sni().unwrap_or(&[]),
        };
        put_span(name, len, sni);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_peer_cert_count(conn: *const tlsb_conn) -> usize {
    value(conn, 0, |c| c.conn().and_then(|s| s.peer_certificates()).map(|p| p.len()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_peer_cert(
    conn: *const tlsb_conn,
    index: usize,
    der: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let der = crate::ffi::out(der, "der")?;
        let len = crate::ffi::out(len, "len")?;
        let certs = c.conn().and_then(|s| s.peer_certificates()).unwrap_or(&[]);
        let cert = certs.get(index).ok_or_else(|| Failure::invalid("peer certificate index out of range"))?;
        put_span(der, len, cert.as_ref());
        Ok(TLSB_OK)
    })
}

// ---- resumption, the certificate sent, key sizes -------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_conn_kx_group(conn: *const tlsb_conn) -> u16 {
    value(conn, 0, |c| c.kx_group())
}

#[no_mangle]
pub extern "C" fn tlsb_conn_is_resumed(conn: *const tlsb_conn) -> c_int {
    value(conn, 0, |c| c_int::from(c.is_resumed()))
}

#[no_mangle]
pub extern "C" fn tlsb_conn_server_cert_count(conn: *const tlsb_conn) -> usize {
    value(conn, 0, |c| c.server_chain().len())
}

#[no_mangle]
pub extern "C" fn tlsb_conn_server_cert(
    conn: *const tlsb_conn,
    index: usize,
    der: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(conn, std::ptr::null_mut(), |c| {
        let der = crate::ffi::out(der, "der")?;
        let len = crate::ffi::out(len, "len")?;
        let cert: &rustls::pki_types::CertificateDer<'static> =
            c.server_chain().get(index).ok_or_else(|| Failure::invalid("server certificate index out of range"))?;
        put_span(der, len, cert.as_ref());
        Ok(TLSB_OK)
    })
}
