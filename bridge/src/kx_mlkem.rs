//! `X25519MLKEM768`: the hybrid post-quantum key exchange group for TLS 1.3
//! (draft-ietf-tls-ecdhe-mlkem, IANA TLS Supported Groups code point 0x11EC,
//! `NamedGroup::X25519MLKEM768` in rustls 0.23.26), as a rustls
//! [`SupportedKxGroup`].
//!
//! The group combines ML-KEM-768 (FIPS 203, from the `fips203` crate) with
//! X25519 (RFC 7748, from `ring`).  The session is safe as long as *either*
//! component is unbroken.
//!
//! # Byte layout (note: ML-KEM comes first, unlike `X25519Kyber768Draft00`)
//!
//! | value                       | layout                                          | bytes |
//! |-----------------------------|-------------------------------------------------|-------|
//! | client `key_exchange`       | ML-KEM-768 encapsulation key (1184) ‖ X25519 public key (32) | 1216 |
//! | server `key_exchange`       | ML-KEM-768 ciphertext (1088) ‖ X25519 public key (32)        | 1120 |
//! | shared secret (to TLS 1.3 key schedule) | ML-KEM-768 shared secret (32) ‖ X25519 shared secret (32) | 64 |
//!
//! # Roles and where validation happens
//!
//! * **Client** – [`SupportedKxGroup::start`] generates an ML-KEM-768 key pair
//!   and an ephemeral X25519 key; [`ActiveKeyExchange::complete`] receives the
//!   server share, checks its length (exactly 1120 bytes), decapsulates the
//!   ciphertext (ML-KEM uses implicit rejection, so a tampered ciphertext of the
//!   right length yields a pseudo-random secret and the handshake then fails at
//!   `Finished`) and runs X25519 against the server's point.
//! * **Server** – rustls 0.23 calls [`SupportedKxGroup::start_and_complete`] with
//!   the client's share (this is what makes a KEM possible).  We check:
//!   1. the length is exactly 1216 bytes;
//!   2. the encapsulation key passes the FIPS 203 §7.2 *encapsulation key check*:
//!      the type check is the fixed 1184-byte array, the modulus check
//!      (`ByteEncode12(ByteDecode12(ek)) == ek`, i.e. every 12-bit coefficient
//!      `< q = 3329`) is done by `fips203::ml_kem_768::EncapsKey::try_from_bytes`
//!      (it runs `byte_decode(12, ..)` on each of the k = 3 polynomials, which
//!      rejects any coefficient `>= q`);
//!   3. the X25519 agreement succeeds: ring rejects a non-32-byte point and an
//!      all-zero shared secret (small-order point), RFC 7748 §6.1.
//!
//!   Only then do we encapsulate to the client's key and answer with a fresh
//!   ephemeral X25519 key.
//!
//! Every failure caused by peer input is returned as
//! `Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare)`.  On the server,
//! rustls 0.23.26 (`server/tls13.rs`, `emit_server_hello`) maps *any* error
//! from `start_and_complete` to a fatal `illegal_parameter` alert; on the
//! client (`client/tls13.rs`) any error from `complete` is likewise sent as
//! `illegal_parameter`.  Nothing here panics on peer data.
//!
//! # TLS versions
//!
//! [`SupportedKxGroup::usable_for_version`] returns `true` only for TLS 1.3:
//! rustls then neither offers (client) nor selects (server) the group on a
//! TLS 1.2 connection.
//!
//! # Hybrid-component optimisation
//!
//! [`ActiveKeyExchange::hybrid_component`] exposes the X25519 half, so when the
//! client's provider also lists plain X25519, rustls sends an X25519 key share
//! next to the hybrid one (reusing the same X25519 key, as permitted by
//! draft-ietf-tls-hybrid-design §3.2) and a server without ML-KEM can pick it
//! without a `HelloRetryRequest`.
//!
//! # Secrets in memory
//!
//! fips203's `DecapsKey` and `SharedSecretKey` zeroize on drop; rustls'
//! `SharedSecret` zeroizes its buffer on drop.  The one copy of the ML-KEM
//! secret we make is wiped after use.  ring 0.17 does not zeroize X25519
//! private keys or its internal agreement buffer (see its `agreement.rs`) –
//! the same as rustls' own ring X25519 group.
//!
//! `fips()` is `false`: neither `fips203` nor `ring` is a FIPS-validated module.

use core::fmt;

use fips203::ml_kem_768;
use fips203::traits::{Decaps, Encaps, KeyGen, SerDes};
use ring::agreement;
use ring::rand::SystemRandom;
use rustls::crypto::{ActiveKeyExchange, CompletedKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::ffdhe_groups::FfdheGroup;
use rustls::{Error, NamedGroup, PeerMisbehaved, ProtocolVersion};

/// ML-KEM-768 encapsulation key length (FIPS 203: 384·k + 32, k = 3).
pub const MLKEM768_ENCAPS_KEY_LEN: usize = ml_kem_768::EK_LEN;
/// ML-KEM-768 ciphertext length (FIPS 203: `32·(d_u·k + d_v)`).
pub const MLKEM768_CIPHERTEXT_LEN: usize = ml_kem_768::CT_LEN;
/// ML-KEM shared secret length.
pub const MLKEM768_SHARED_SECRET_LEN: usize = fips203::SSK_LEN;
/// X25519 public key and shared secret length.
pub const X25519_LEN: usize = 32;

/// Length of the client's `key_exchange` (1216).
pub const CLIENT_SHARE_LEN: usize = MLKEM768_ENCAPS_KEY_LEN + X25519_LEN;
/// Length of the server's `key_exchange` (1120).
pub const SERVER_SHARE_LEN: usize = MLKEM768_CIPHERTEXT_LEN + X25519_LEN;
/// Length of the combined shared secret (64).
pub const SHARED_SECRET_LEN: usize = MLKEM768_SHARED_SECRET_LEN + X25519_LEN;

// The layout is fixed by the draft; fail the build if a dependency disagrees.
const _: () = assert!(CLIENT_SHARE_LEN == 1216);
const _: () = assert!(SERVER_SHARE_LEN == 1120);
const _: () = assert!(SHARED_SECRET_LEN == 64);

/// The `X25519MLKEM768` key exchange group (see the module docs).
#[derive(Clone, Copy, Default)]
pub struct X25519MlKem768;

/// `X25519MLKEM768` (0x11EC) for a rustls [`rustls::crypto::CryptoProvider`]'s
/// `kx_groups`.  Put it first to prefer it; keep X25519 in the list as well.
pub static X25519MLKEM768: &dyn SupportedKxGroup = &X25519MlKem768;

impl fmt::Debug for X25519MlKem768 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519MLKEM768")
    }
}

impl SupportedKxGroup for X25519MlKem768 {
    /// Client side: fresh ML-KEM-768 key pair + fresh X25519 key.
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let (ek, dk) = ml_kem_768::KG::try_keygen().map_err(|_| Error::FailedToGetRandomBytes)?;
        let x25519 = new_x25519_key()?;
        Ok(Box::new(client_start(ek, dk, x25519)?))
    }

    /// Server side: validate the client's share, encapsulate, X25519.
    fn start_and_complete(&self, client_share: &[u8]) -> Result<CompletedKeyExchange, Error> {
        // Validate the peer input before spending randomness on it.
        let (ek, client_x25519) = parse_client_share(client_share)?;
        let x25519 = new_x25519_key()?;
        server_complete(
            &ek,
            client_x25519,
            x25519,
            ml_kem_768::EncapsKey::try_encaps,
        )
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }

    fn fips(&self) -> bool {
        false
    }

    /// Hybrid groups are defined for TLS 1.3 only.
    fn usable_for_version(&self, version: ProtocolVersion) -> bool {
        version == ProtocolVersion::TLSv1_3
    }
}

/// Client state between `ClientHello` and `ServerHello`.
struct ClientKx {
    dk: ml_kem_768::DecapsKey,
    x25519: agreement::EphemeralPrivateKey,
    /// ek ‖ X25519 public key (1216 bytes).
    share: Vec<u8>,
}

impl ActiveKeyExchange for ClientKx {
    fn complete(self: Box<Self>, server_share: &[u8]) -> Result<SharedSecret, Error> {
        let this = *self;
        if server_share.len() != SERVER_SHARE_LEN {
            return Err(invalid_share());
        }
        let (ct_bytes, server_x25519) = server_share.split_at(MLKEM768_CIPHERTEXT_LEN);
        let ct_array: [u8; MLKEM768_CIPHERTEXT_LEN] =
            ct_bytes.try_into().map_err(|_| invalid_share())?;
        // Any 1088-byte string is a well-formed ciphertext (implicit rejection).
        let ct = ml_kem_768::CipherText::try_from_bytes(ct_array).map_err(|_| invalid_share())?;
        let mlkem_ss = this.dk.try_decaps(&ct).map_err(|_| invalid_share())?;
        let mut secret = SecretBuf::with_capacity(SHARED_SECRET_LEN);
        secret.push_mlkem(mlkem_ss);
        x25519_agree(this.x25519, server_x25519, &mut secret)?;
        if secret.0.len() != SHARED_SECRET_LEN {
            return Err(Error::General(
                "X25519MLKEM768: bad local output length".into(),
            ));
        }
        Ok(secret.into_shared_secret())
        // `this.dk` (ML-KEM decapsulation key) is zeroized on drop here.
    }

    fn hybrid_component(&self) -> Option<(NamedGroup, &[u8])> {
        self.share
            .get(MLKEM768_ENCAPS_KEY_LEN..)
            .map(|x25519_pub| (NamedGroup::X25519, x25519_pub))
    }

    /// The server chose our separate X25519 share: plain X25519 with the same key.
    fn complete_hybrid_component(
        self: Box<Self>,
        server_x25519: &[u8],
    ) -> Result<SharedSecret, Error> {
        let this = *self;
        let mut secret = SecretBuf::with_capacity(X25519_LEN);
        x25519_agree(this.x25519, server_x25519, &mut secret)?;
        Ok(secret.into_shared_secret())
    }

    fn pub_key(&self) -> &[u8] {
        &self.share
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }
}

fn invalid_share() -> Error {
    Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare)
}

fn new_x25519_key() -> Result<agreement::EphemeralPrivateKey, Error> {
    agreement::EphemeralPrivateKey::generate(&agreement::X25519, &SystemRandom::new())
        .map_err(|_| Error::FailedToGetRandomBytes)
}

/// Builds the client state from already generated keys (separate from
/// `start()` so tests can feed deterministic ML-KEM keys).
fn client_start(
    ek: ml_kem_768::EncapsKey,
    dk: ml_kem_768::DecapsKey,
    x25519: agreement::EphemeralPrivateKey,
) -> Result<ClientKx, Error> {
    let x25519_pub = x25519
        .compute_public_key()
        .map_err(|_| Error::FailedToGetRandomBytes)?;
    let mut share = Vec::with_capacity(CLIENT_SHARE_LEN);
    share.extend_from_slice(&ek.into_bytes());
    share.extend_from_slice(x25519_pub.as_ref());
    if share.len() != CLIENT_SHARE_LEN {
        return Err(Error::General(
            "X25519MLKEM768: bad local key share length".into(),
        ));
    }
    Ok(ClientKx { dk, x25519, share })
}

/// Splits and validates the client's share: length, then the FIPS 203
/// encapsulation key check (type = array length, modulus check in
/// `EncapsKey::try_from_bytes`).  The X25519 half is checked by the agreement.
fn parse_client_share(client_share: &[u8]) -> Result<(ml_kem_768::EncapsKey, &[u8]), Error> {
    if client_share.len() != CLIENT_SHARE_LEN {
        return Err(invalid_share());
    }
    let (ek_bytes, client_x25519) = client_share.split_at(MLKEM768_ENCAPS_KEY_LEN);
    let ek_array: [u8; MLKEM768_ENCAPS_KEY_LEN] =
        ek_bytes.try_into().map_err(|_| invalid_share())?;
    let ek = ml_kem_768::EncapsKey::try_from_bytes(ek_array).map_err(|_| invalid_share())?;
    Ok((ek, client_x25519))
}

/// Server half after parsing: X25519 first (cheap, and it can still reject
/// the peer's point), then ML-KEM encapsulation (`encapsulate` is
/// `EncapsKey::try_encaps` in production, seeded in tests).
fn server_complete<F>(
    ek: &ml_kem_768::EncapsKey,
    client_x25519: &[u8],
    x25519: agreement::EphemeralPrivateKey,
    encapsulate: F,
) -> Result<CompletedKeyExchange, Error>
where
    F: FnOnce(
        &ml_kem_768::EncapsKey,
    ) -> Result<(fips203::SharedSecretKey, ml_kem_768::CipherText), &'static str>,
{
    let x25519_pub = x25519
        .compute_public_key()
        .map_err(|_| Error::FailedToGetRandomBytes)?;
    let mut x25519_ss = SecretBuf::with_capacity(X25519_LEN);
    x25519_agree(x25519, client_x25519, &mut x25519_ss)?;

    // fips203 only fails here if its RNG fails (the key was validated above).
    let (mlkem_ss, ct) = encapsulate(ek)
        .map_err(|_| Error::General("X25519MLKEM768: ML-KEM-768 encapsulation failed".into()))?;

    let mut pub_key = Vec::with_capacity(SERVER_SHARE_LEN);
    pub_key.extend_from_slice(&ct.into_bytes());
    pub_key.extend_from_slice(x25519_pub.as_ref());

    let mut secret = SecretBuf::with_capacity(SHARED_SECRET_LEN);
    secret.push_mlkem(mlkem_ss);
    secret.0.extend_from_slice(&x25519_ss.0);

    if pub_key.len() != SERVER_SHARE_LEN || secret.0.len() != SHARED_SECRET_LEN {
        return Err(Error::General(
            "X25519MLKEM768: bad local output length".into(),
        ));
    }
    Ok(CompletedKeyExchange {
        group: NamedGroup::X25519MLKEM768,
        pub_key,
        secret: secret.into_shared_secret(),
    })
}

/// A secret byte buffer that is wiped on drop unless it is handed over to
/// rustls (whose `SharedSecret` zeroizes itself).  It is always created with
/// its final capacity, so no reallocation leaves a stale copy on the heap.
struct SecretBuf(Vec<u8>);

impl SecretBuf {
    fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// Appends the ML-KEM secret and wipes the one stack copy we have to make
    /// (fips203 exposes the secret only by value; its own copy is zeroized
    /// when `mlkem_ss` drops).
    fn push_mlkem(&mut self, mlkem_ss: fips203::SharedSecretKey) {
        let mut bytes = mlkem_ss.into_bytes();
        self.0.extend_from_slice(&bytes);
        wipe(&mut bytes);
    }

    fn into_shared_secret(mut self) -> SharedSecret {
        SharedSecret::from(core::mem::take(&mut self.0))
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Best-effort wipe without a `zeroize` dependency: `black_box` keeps the
/// compiler from treating the stores to a dead buffer as removable.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    core::hint::black_box(buf);
}

/// X25519 with ring; appends the 32-byte secret to `out`.  ring rejects a
/// peer point that is not 32 bytes and an all-zero result.
fn x25519_agree(
    my_key: agreement::EphemeralPrivateKey,
    peer: &[u8],
    out: &mut SecretBuf,
) -> Result<(), Error> {
    if peer.len() != X25519_LEN {
        return Err(invalid_share());
    }
    let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
    agreement::agree_ephemeral(my_key, &peer, |ss| out.0.extend_from_slice(ss))
        .map_err(|_| invalid_share())
}

#[cfg(test)]
#[path = "kx_mlkem_tests.rs"]
mod tests;
