//! The connection state machine. Server side: Acceptor until the ClientHello is complete, then the
//! caller picks a config (or rejects), then a rustls ServerConnection. Client side (backends):
//! idle with its config until the caller names the server and ALPN, then a ClientConnection.
//! Both sides share read_tls/process/send_tls/read_plain/write_plain once connected.

use std::io::{ErrorKind, IoSlice, Read};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rustls::server::{Accepted, Acceptor};
use rustls::sign::CertifiedKey;
use rustls::Connection;

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

/// Bytes kept for plain-HTTP detection.
/// Enough of the first bytes to hold a typical ClientHello record, for diagnostics; released
/// once the ClientHello has been read.
const FIRST_BYTES: usize = 4096;
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
    /// Bytes for write_tls produced by the bridge itself (a synthesized alert).
    out: Vec<u8>,
    /// The error that killed the connection; repeated by later calls.
    failure: Option<Failure>,
    close_notify_sent: bool,
    /// A stored session or ticket was found for this handshake (see observe.rs).
    resumed: bool,
    /// The certified key the resolver chose: the certificate chain sent.
    server_key: Option<Arc<CertifiedKey>>,
    /// A client (backend) connection: errors name the server as the peer.
    is_client: bool,
    /// The server name a client connection verifies and sends as SNI.
    client_name: Vec<u8>,
    /// The ClientHello's random, while the handshake's TLS 1.3 secrets are logged
    /// (configs verifying client certificates: tls13_alert.rs).
    secrets_key: Option<Vec<u8>>,
    client_random: Option<Vec<u8>>,
    poisoned: AtomicBool,
}

impl Drop for tlsb_conn {
    fn drop(&mut self) {
        if let Some(k) = self.secrets_key.take() {
            crate::tls13_alert::forget(&k);
        }
    }
}

impl Handle for tlsb_conn {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

#[cfg(test)]
thread_local! {
    /// Test hook: makes tlsb_conn_process panic.
    pub static PANIC_IN_PROCESS: std::cell::Cell<bool> = std::cell::Cell::new(false);
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
            resumed: false,
            server_key: None,
            is_client: false,
            client_name: Vec::new(),
            secrets_key: None,
            client_random: None,
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

    /// Records a fatal failure; with `synthesize`, queues its alert record for write_tls.
    fn fail(&mut self, f: Failure, synthesize: bool) -> Failure {
        if synthesize {
            if let Some(a) = f.alert_sent {
                self.out = fatal_alert_record(a);
            }
            self.state = State::Failed;
        }
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
            State::ClientIdle(_) => return Ok(TLSB_OK),
        };
        match accepted {
            Ok(None) if self.eof => {
                let msg = if self.fed == 0 {
                    "connection closed before any TLS data was received"
                } else {
                    "connection closed before the ClientHello was complete"
                };
                Err(self.fail(Failure::new(TLSB_ERR_TLS, msg), true))
            }
            Ok(None) => Ok(TLSB_OK),
            Ok(Some(acc)) => {
                let ch = acc.client_hello();
                self.hello = Some(Hello {
                    sni: ch.server_name().map(|s| s.as_bytes().to_vec()).unwrap_or_default(),
                    alpn: ch.alpn().map(|i| i.map(|p| p.to_vec()).collect()).unwrap_or_default(),
                    sig_schemes: ch.signature_schemes().iter().map(|s| s.get_u16()).collect(),
                    suites: ch.cipher_suites().iter().map(|s| s.get_u16()).collect(),
                });
                self.state = State::HelloReady(Box::new(acc));
                self.client_random = crate::tls13_alert::client_random(&self.first);
                self.first = Vec::new();
                Ok(TLSB_HELLO_READY)
            }
            Err(e) => {
                let mut f = tls_failure("reading the ClientHello failed", &e);
                if let Some(method) = plain_http_method(&self.first) {
                    f.message = format!(
                        "the client spoke plain HTTP to a TLS port (it sent an HTTP {} request \
                         instead of a TLS ClientHello)",
                        method
                    );
                } else if let Some(ip) = crate::sni_probe::ip_literal_sni(&self.first) {
                    f.message = format!(
                        "the client sent the IP address {} as SNI, which RFC 6066 forbids; rustls \
                         refuses such a ClientHello (connect by host name, or send no SNI)",
                        ip
                    );
                } else if matches!(e, rustls::Error::CorruptMessage) {
                    f.message = "reading the ClientHello failed: the client sent data that is not TLS \
                                 (received corrupt message)"
                        .to_string();
                }
                Err(self.fail(f, true))
            }
        }
    }

    fn process_connected(&mut self) -> Res<tlsb_result> {
        let eof = self.eof;
        let c = match &mut self.state {
            State::Connected(c) => c,
            _ => return Err(Failure::invalid("not connected")),
        };
        let handshaking = c.is_handshaking();
        let (processed, seen) = observe(|| c.process_new_packets());
        self.note(seen);
        let c = match &mut self.state {
            State::Connected(c) => c,
            _ => return Err(Failure::invalid("not connected")),
        };
        match processed {
            Ok(_) if !c.is_handshaking() && self.secrets_key.is_some() => {
                if let Some(k) = self.secrets_key.take() {
                    crate::tls13_alert::forget(&k);
                }
                Ok(TLSB_OK)
            }
            Ok(_) if eof && c.is_handshaking() => {
                Err(self.fail(Failure::new(TLSB_ERR_TLS, "connection closed during the handshake"), false))
            }
            Ok(_) => Ok(TLSB_OK),
            Err(e) => {
                let phase = if handshaking { "handshake failed" } else { "TLS error" };
                let mut f = if self.is_client {
                    crate::client::client_failure(phase, &e)
                } else {
                    tls_failure(phase, &e)
                };
                let secrets = self.secrets_key.take();
                if let Connection::Server(sc) = &mut **c {
                    crate::client_verify::settle_alert(sc, &e, &mut f, &mut self.out, secrets.as_deref());
                }
                if let Some(k) = secrets {
                    crate::tls13_alert::forget(&k);
                }
                Err(self.fail(f, false))
            }
        }
    }

    /// Keeps what rustls revealed during one call.
    fn note(&mut self, seen: Observed) {
        self.resumed |= seen.resumed;
        if seen.key.is_some() {
            self.server_key = seen.key;
        }
    }

    /// Whether the handshake resumed a stored session (meaningful once it is complete).
    pub fn is_resumed(&self) -> bool {
        self.resumed && self.conn().is_some()
    }

    /// The certificate chain sent to the client (end-entity first); empty before it is chosen.
    pub fn server_chain(&self) -> &[rustls::Certificate] {
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
        if config.client_auth {
            if let Some(r) = &self.client_random {
                crate::tls13_alert::register(r);
                self.secrets_key = Some(r.clone());
            }
        }
        let (conn, seen) = observe(|| acc.into_connection(cfg));
        self.note(seen);
        let mut conn = match conn {
            Ok(c) => Connection::Server(c),
            Err(e) => return Err(self.fail(tls_failure("handshake failed", &e), true)),
        };
        conn.set_buffer_limit(None);
        let held = std::mem::take(&mut self.held_tls);
        let mut rd: &[u8] = &held;
        while !rd.is_empty() {
            let n = feed(|r| conn.read_tls(r), &mut rd)?;
            if n == 0 {
                // The deframer is full: process what it holds and retry.
                let (processed, seen) = observe(|| conn.process_new_packets());
                self.note(seen);
                if let Err(e) = processed {
                    self.state = State::Connected(Box::new(conn));
                    return Err(self.fail(tls_failure("handshake failed", &e), false));
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
        self.fail(f, true);
        Ok(TLSB_OK)
    }

    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
            || match &self.state {
                State::Connected(c) => c.wants_write(),
                _ => false,
            }
    }

    /// Lends the queued TLS bytes to `sink` without copying them: whole records straight from
    /// rustls's queue, a batch at a time. A batch is valid only during the call: the sink sends
    /// or copies all of it and returns true, or returns false to stop (TLSB_ERR_IO; the refused
    /// batch stays queued, and the caller closes the connection). Returns the bytes accepted.
    pub fn send_tls(&mut self, sink: &mut dyn FnMut(&[IoSlice<'_>]) -> bool) -> Res<usize> {
        let refused = || Failure::new(TLSB_ERR_IO, "the transport refused the TLS bytes");
        let mut sent = 0;
        if !self.out.is_empty() {
            if !sink(&[IoSlice::new(&self.out)]) {
                return Err(refused());
            }
            sent = self.out.len();
            self.out.clear();
        }
        if let State::Connected(c) = &mut self.state {
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
                Err(self.fail(f, false))
            }
            Err(e) => Err(self.fail(Failure::new(TLSB_ERR_TLS, format!("reading plaintext failed: {}", e)), false)),
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

    #[cfg(test)]
    pub fn client_random(&self) -> Option<&[u8]> {
        self.client_random.as_deref()
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

/// At most this many records are lent at once (TLSB_SEND_BATCH_MAX in tls_bridge.h; rustls 0.20
/// offers up to 64 per vectored write).
pub const MAX_BATCH: usize = 64;

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
