//! Keeps each host's resumable sessions to itself. One session store (a shared socache) and one
//! set of ticket keys serve every virtual host, and rustls only checks that a resumed session's SNI
//! matches; without a scope, a session made with one host's certificate or client-certificate
//! policy would resume on another host answering the same name on another address (or after the
//! policy changed). The scope is a digest of the host's identity (address, name, certificates,
//! client-certificate policy) given by the caller; it is the same on every server of a cluster
//! that serves the host the same way, so sessions still resume across them.

use std::sync::Arc;

use ring::digest;
use rustls::server::{ProducesTickets, StoresServerSessions};

pub const SCOPE_LEN: usize = 32;

pub fn scope_of(identity: &[u8]) -> [u8; SCOPE_LEN] {
    let mut out = [0u8; SCOPE_LEN];
    out.copy_from_slice(digest::digest(&digest::SHA256, identity).as_ref());
    out
}

/// Store keys are prefixed with the scope: another host never finds this host's sessions.
#[derive(Debug)]
pub struct ScopedStore {
    pub inner: Arc<dyn StoresServerSessions>,
    pub scope: [u8; SCOPE_LEN],
}

impl ScopedStore {
    fn key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(SCOPE_LEN + key.len());
        k.extend_from_slice(&self.scope);
        k.extend_from_slice(key);
        k
    }
}

impl StoresServerSessions for ScopedStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.inner.put(self.key(&key), value)
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(&self.key(key))
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(&self.key(key))
    }
    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

/// Tickets carry the scope inside their encrypted body: another host's ticket decrypts (same
/// keys) but is refused, and the client gets a full handshake.
#[derive(Debug)]
pub struct ScopedTickets {
    pub inner: Arc<dyn ProducesTickets>,
    pub scope: [u8; SCOPE_LEN],
}

impl ProducesTickets for ScopedTickets {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut body = Vec::with_capacity(SCOPE_LEN + plain.len());
        body.extend_from_slice(&self.scope);
        body.extend_from_slice(plain);
        self.inner.encrypt(&body)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let mut plain = self.inner.decrypt(cipher)?;
        if plain.len() < SCOPE_LEN || plain[..SCOPE_LEN] != self.scope {
            return None;
        }
        plain.drain(..SCOPE_LEN);
        Some(plain)
    }
}
