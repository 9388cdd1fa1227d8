// TEMPORARY STUB until the real module lands — must not be committed.
use rustls::crypto::SupportedKxGroup;
pub static X25519MLKEM768: &dyn SupportedKxGroup = rustls::crypto::ring::kx_group::X25519;
