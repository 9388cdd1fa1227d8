//! The specific alert for a refused client certificate under TLS 1.3.
//!
//! rustls 0.20 answers every client certificate its verifier refuses with handshake_failure, and
//! under TLS 1.3 that alert is encrypted (with the server's traffic key: rustls switches to it
//! right after its Finished, before the client's Certificate arrives). Configs that verify
//! client certificates therefore log the server's TLS 1.3 write secrets (rustls's KeyLog) into
//! a table keyed by the ClientHello's random (only for randoms their connection registered); when a certificate is refused, the bridge finds the
//! alert record among the pending output by decrypting it, and seals the right alert in its
//! place with the same key and sequence number. The secrets leave the table when the handshake
//! ends (either way) or the connection is freed.

use std::collections::HashMap;
use std::sync::Mutex;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

const LABELS: [&str; 2] = ["SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"];

type Table = HashMap<Vec<u8>, Vec<Vec<u8>>>;
static SECRETS: Mutex<Option<Table>> = Mutex::new(None);

/// rustls's key log for configs that verify client certificates.
pub struct ServerSecrets;

impl rustls::KeyLog for ServerSecrets {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        if !LABELS.contains(&label) {
            return;
        }
        // Only for handshakes registered by their connection: whatever rustls logs for any other
        // random (e.g. one the bridge could not read from a fragmented ClientHello) is not kept,
        // so nothing stays in the table after the connection is gone.
        if let Ok(mut t) = SECRETS.lock() {
            if let Some(v) = t.as_mut().and_then(|t| t.get_mut(client_random)) {
                v.push(secret.to_vec());
            }
        }
    }

    fn will_log(&self, label: &str) -> bool {
        LABELS.contains(&label)
    }
}

/// Starts keeping the secrets rustls logs for the handshake with this ClientHello random.
pub fn register(client_random: &[u8]) {
    if let Ok(mut t) = SECRETS.lock() {
        t.get_or_insert_with(HashMap::new).insert(client_random.to_vec(), Vec::new());
    }
}

/// Drops the secrets of one handshake.
pub fn forget(client_random: &[u8]) {
    if let Ok(mut t) = SECRETS.lock() {
        if let Some(t) = t.as_mut() {
            t.remove(client_random);
        }
    }
}

/// Whether secrets of this handshake are held (tests).
#[cfg(test)]
pub fn holds(client_random: &[u8]) -> bool {
    SECRETS.lock().map(|t| t.as_ref().map(|t| t.contains_key(client_random)).unwrap_or(false)).unwrap_or(false)
}

fn take(client_random: &[u8]) -> Vec<Vec<u8>> {
    match SECRETS.lock() {
        Ok(mut t) => t.as_mut().and_then(|t| t.remove(client_random)).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The ClientHello's random from the first bytes of a connection (record header 5, handshake
/// header 4, legacy_version 2, then 32 bytes of random).
/// None when the first record is too short to hold it (a fragmented ClientHello).
pub fn client_random(first: &[u8]) -> Option<Vec<u8>> {
    if first.first() != Some(&0x16) || first.get(5) != Some(&0x01) {
        return None;
    }
    let record_len = usize::from(u16::from_be_bytes([*first.get(3)?, *first.get(4)?]));
    if record_len < 4 + 2 + 32 {
        return None;
    }
    first.get(11..43).map(|r| r.to_vec())
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", len) of RFC 8446 section 7.1.
fn expand_label(prk: &hkdf::Prk, label: &[u8], len: usize) -> Option<Vec<u8>> {
    let out_len = (len as u16).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    let info: [&[u8]; 5] = [&out_len, &label_len, b"tls13 ", label, &[0u8]];
    let mut out = vec![0u8; len];
    prk.expand(&info, Len(len)).ok()?.fill(&mut out).ok()?;
    Some(out)
}

fn traffic_key(suite: rustls::CipherSuite, secret: &[u8]) -> Option<(LessSafeKey, [u8; 12])> {
    use rustls::CipherSuite::*;
    let (hash, alg) = match suite {
        TLS13_AES_128_GCM_SHA256 => (hkdf::HKDF_SHA256, &aead::AES_128_GCM),
        TLS13_AES_256_GCM_SHA384 => (hkdf::HKDF_SHA384, &aead::AES_256_GCM),
        TLS13_CHACHA20_POLY1305_SHA256 => (hkdf::HKDF_SHA256, &aead::CHACHA20_POLY1305),
        _ => return None,
    };
    let prk = hkdf::Prk::new_less_safe(hash, secret);
    let key = expand_label(&prk, b"key", alg.key_len())?;
    let iv = expand_label(&prk, b"iv", 12)?;
    let mut iv_arr = [0u8; 12];
    iv_arr.copy_from_slice(&iv);
    Some((LessSafeKey::new(UnboundKey::new(alg, &key).ok()?), iv_arr))
}

fn nonce(iv: &[u8; 12], seq: u64) -> Nonce {
    let mut n = *iv;
    for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes().iter()) {
        *b ^= s;
    }
    Nonce::assume_unique_for_key(n)
}

/// Sequence numbers tried per key: the alert follows at most a few records under one key.
const MAX_SEQ: u64 = 32;

/// Replaces, in `pending` (TLS records the server is about to send), the encrypted fatal alert
/// `from` with alert `to`. Returns whether it did.
pub fn rewrite(pending: &mut [u8], client_random: &[u8], suite: rustls::CipherSuite, from: u8, to: u8) -> bool {
    let secrets = take(client_random);
    let keys: Vec<(LessSafeKey, [u8; 12])> = secrets.iter().filter_map(|s| traffic_key(suite, s)).collect();
    let mut at = 0;
    while at + 5 <= pending.len() {
        let len = usize::from(u16::from_be_bytes([pending[at + 3], pending[at + 4]]));
        let end = at + 5 + len;
        if end > pending.len() {
            return false;
        }
        if pending[at] == 0x17 {
            let mut header = [0u8; 5];
            header.copy_from_slice(&pending[at..at + 5]);
            for (key, iv) in &keys {
                for seq in 0..MAX_SEQ {
                    let mut body = pending[at + 5..end].to_vec();
                    let opened = match key.open_in_place(nonce(iv, seq), Aad::from(header), &mut body) {
                        Ok(p) => p.to_vec(),
                        Err(_) => continue,
                    };
                    if opened != [2, from, 0x15] {
                        break; // right key and sequence, but not the alert
                    }
                    let mut sealed = vec![2, to, 0x15];
                    if key.seal_in_place_append_tag(nonce(iv, seq), Aad::from(header), &mut sealed).is_err()
                        || sealed.len() != len
                    {
                        return false;
                    }
                    pending[at + 5..end].copy_from_slice(&sealed);
                    return true;
                }
            }
        }
        at = end;
    }
    false
}
