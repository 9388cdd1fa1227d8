//! Session ticket keys shared by every server that has the same key file (TLSSessionTicketKeys).
//!
//! The file holds one key per line: base64 of exactly 32 random bytes; empty lines and lines
//! starting with `#` are ignored. The first key encrypts new tickets; every key decrypts, so
//! prepending a new key (and restarting gracefully) rotates without breaking issued tickets.
//!
//! A ticket is `key id (4) | issued at (8, seconds since the epoch, big endian) | nonce (12) |
//! ChaCha20-Poly1305(session)`, with the key id and issue time authenticated as associated data.
//! The key id (a hash of the key) picks the decrypting key; the nonce is random per ticket.
//! Tickets older than the lifetime are refused (so a leaked old ticket is not valid forever).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use rustls::server::ProducesTickets;

use crate::ffi::*;

pub const KEY_LEN: usize = 32;
const ID_LEN: usize = 4;
const TIME_LEN: usize = 8;
const HEADER_LEN: usize = ID_LEN + TIME_LEN + NONCE_LEN;
/// How far in the future a ticket's issue time may be (clock differences inside a cluster).
const CLOCK_SKEW_SECS: u64 = 60;

#[derive(Debug)]
struct TicketKey {
    id: [u8; ID_LEN],
    key: LessSafeKey,
}

impl TicketKey {
    fn new(bytes: &[u8]) -> Res<Self> {
        let digest = ring::digest::digest(&ring::digest::SHA256, &[b"mod_tls ticket key id\0".as_ref(), bytes].concat());
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&digest.as_ref()[..ID_LEN]);
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| Failure::new(TLSB_ERR_CONFIG, "a ticket key could not be set up"))?;
        Ok(TicketKey { id, key: LessSafeKey::new(key) })
    }
}

/// The keys of one key file, first one encrypting. Thread-safe and shared by all server configs.
#[derive(Debug)]
pub struct TicketKeys {
    keys: Vec<TicketKey>,
    lifetime: u32,
    rng: SystemRandom,
}

/// `tlsb_ticket_keys` from tls_bridge.h: the parsed keys, shared with the configs built from them.
#[allow(non_camel_case_types)]
pub struct tlsb_ticket_keys {
    pub keys: Arc<TicketKeys>,
    poisoned: AtomicBool,
}

impl tlsb_ticket_keys {
    pub fn new(keys: TicketKeys) -> Self {
        tlsb_ticket_keys { keys: Arc::new(keys), poisoned: AtomicBool::new(false) }
    }
}

impl Handle for tlsb_ticket_keys {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl TicketKeys {
    /// Parses the key file's text. Errors name the line, never the key material.
    pub fn parse(text: &[u8], lifetime: u32) -> Res<Self> {
        let text = std::str::from_utf8(text)
            .map_err(|_| Failure::new(TLSB_ERR_CONFIG, "the key file is not text (one base64 key per line)"))?;
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bytes = base64::engine::general_purpose::STANDARD.decode(line).map_err(|_| {
                Failure::new(TLSB_ERR_CONFIG, format!("line {}: not a base64 key; make one with 'openssl rand -base64 32'", n + 1))
            })?;
            if bytes.len() != KEY_LEN {
                return Err(Failure::new(
                    TLSB_ERR_CONFIG,
                    format!(
                        "line {}: a key must be {} bytes, this one is {}; make one with 'openssl rand -base64 32'",
                        n + 1,
                        KEY_LEN,
                        bytes.len()
                    ),
                ));
            }
            keys.push(TicketKey::new(&bytes)?);
        }
        if keys.is_empty() {
            return Err(Failure::new(
                TLSB_ERR_CONFIG,
                "the key file holds no key; add one line made with 'openssl rand -base64 32'",
            ));
        }
        if lifetime == 0 {
            return Err(Failure::invalid("the ticket lifetime must be positive"));
        }
        Ok(TicketKeys { keys, lifetime, rng: SystemRandom::new() })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    fn seal(&self, plain: &[u8], issued: u64) -> Option<Vec<u8>> {
        let k = self.keys.first()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + CHACHA20_POLY1305.tag_len());
        out.extend_from_slice(&k.id);
        out.extend_from_slice(&issued.to_be_bytes());
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        k.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&out[..ID_LEN + TIME_LEN]), &mut body)
            .ok()?;
        out.extend_from_slice(&body);
        Some(out)
    }

    fn open(&self, ticket: &[u8], now: u64) -> Option<Vec<u8>> {
        if ticket.len() < HEADER_LEN + CHACHA20_POLY1305.tag_len() {
            return None;
        }
        let (header, sealed) = ticket.split_at(HEADER_LEN);
        let mut time = [0u8; TIME_LEN];
        time.copy_from_slice(&header[ID_LEN..ID_LEN + TIME_LEN]);
        let issued = u64::from_be_bytes(time);
        if issued > now.saturating_add(CLOCK_SKEW_SECS) || now.saturating_sub(issued) > u64::from(self.lifetime) {
            return None;
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&header[ID_LEN + TIME_LEN..]);
        for k in self.keys.iter().filter(|k| k.id[..] == header[..ID_LEN]) {
            let mut body = sealed.to_vec();
            let aad = Aad::from(&header[..ID_LEN + TIME_LEN]);
            if let Ok(plain) = k.key.open_in_place(Nonce::assume_unique_for_key(nonce), aad, &mut body) {
                return Some(plain.to_vec());
            }
        }
        None
    }
}

impl ProducesTickets for TicketKeys {
    fn enabled(&self) -> bool {
        true
    }
    fn lifetime(&self) -> u32 {
        self.lifetime
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.seal(plain, now_secs())
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.open(cipher, now_secs())
    }
}


// ---- the C ABI: session ticket keys ---------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_ticket_keys_new(
    text: *const u8,
    len: usize,
    lifetime_secs: u32,
    out: *mut *mut tlsb_ticket_keys,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = crate::ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        let text = in_bytes(text, len, "text")?;
        *out = into_handle(tlsb_ticket_keys::new(TicketKeys::parse(text, lifetime_secs)?));
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_ticket_keys_count(keys: *const tlsb_ticket_keys) -> usize {
    value(keys, 0, |k| k.keys.len())
}

#[no_mangle]
pub extern "C" fn tlsb_ticket_keys_free(keys: *mut tlsb_ticket_keys) {
    free_handle(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    fn keys(text: &str) -> TicketKeys {
        TicketKeys::parse(text.as_bytes(), 300).unwrap()
    }

    #[test]
    fn round_trip_and_random_nonce() {
        let k = keys(K1);
        let a = k.encrypt(b"session").unwrap();
        let b = k.encrypt(b"session").unwrap();
        assert_ne!(a, b);
        assert_eq!(k.decrypt(&a).unwrap(), b"session");
    }

    #[test]
    fn rotation_old_key_still_decrypts_new_key_encrypts() {
        let old = keys(K1);
        let rotated = keys(&format!("# rotated\n{}\n\n{}\n", K2, K1));
        let t_old = old.encrypt(b"s1").unwrap();
        assert_eq!(rotated.decrypt(&t_old).unwrap(), b"s1");
        let t_new = rotated.encrypt(b"s2").unwrap();
        assert!(old.decrypt(&t_new).is_none());
        assert_eq!(keys(K2).decrypt(&t_new).unwrap(), b"s2");
    }

    #[test]
    fn tampered_expired_and_short_tickets_are_refused() {
        let k = keys(K1);
        let mut t = k.encrypt(b"session").unwrap();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(k.decrypt(&t).is_none());
        let old = k.seal(b"session", now_secs() - 301).unwrap();
        assert!(k.decrypt(&old).is_none());
        let future = k.seal(b"session", now_secs() + 3600).unwrap();
        assert!(k.decrypt(&future).is_none());
        assert!(k.decrypt(&[]).is_none());
        assert!(k.decrypt(&[0u8; HEADER_LEN]).is_none());
        // The issue time is authenticated.
        let mut t = k.encrypt(b"session").unwrap();
        t[ID_LEN + TIME_LEN - 1] ^= 1;
        assert!(k.decrypt(&t).is_none());
    }

    #[test]
    fn malformed_files_name_the_line() {
        let e = TicketKeys::parse(b"# c\n\nnot base64!\n", 300).err().unwrap();
        assert!(e.message.contains("line 3"), "{}", e.message);
        let e = TicketKeys::parse(format!("{}\nAAAA\n", K1).as_bytes(), 300).err().unwrap();
        assert!(e.message.contains("line 2") && e.message.contains("32 bytes"), "{}", e.message);
        assert!(TicketKeys::parse(b"# only a comment\n", 300).is_err());
        assert!(TicketKeys::parse(b"\xff\xfe", 300).is_err());
        assert_eq!(TicketKeys::parse(format!("  {}  \r\n{}", K1, K2).as_bytes(), 300).unwrap().len(), 2);
    }
}
