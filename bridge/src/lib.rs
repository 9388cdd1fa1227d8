//! tls_bridge: a narrow, sans-I/O C ABI over rustls 0.23 for mod_tls (see include/tls_bridge.h).
//!
//! Every exported function null-checks its pointers, catches panics (poisoning the handle) and
//! reports errors through `tlsb_error` (`ffi`). Each module holds one concern and the
//! `extern "C"` functions that expose it; this file only lists them.

mod alerts; // errors to alerts and log messages
mod certinfo; // certificate fields for SSL_* variables (tlsb_cert_info_*)
mod client; // backend (proxy) client configs and connections (tlsb_client_config_*)
mod client_verify; // client certificate verification with CRLs (tlsb_client_verifier_*)
mod config; // server configs and the certificate resolver (tlsb_server_config_*)
mod conn; // the connection state machine (tlsb_conn_*)
mod crl; // CRL files checked at startup
mod der; // the DER walker of certinfo and crl
mod dn; // distinguished names as mod_ssl prints them
mod ffi; // ABI plumbing: result codes, errors, the panic guard
mod groups; // key exchange groups by name (TLSGroups) and the crypto provider
mod key; // certified keys (tlsb_certified_key_*)
pub mod kx_mlkem; // the X25519MLKEM768 hybrid key exchange (public for examples/handshake_load.rs)
mod names; // static names of results, alerts, suites, versions (tlsb_*_name)
mod observe; // what rustls revealed during a call (chosen key, resumption, verifier detail)
mod ocsp; // OCSP stapling (tlsb_certified_key_*ocsp*)
mod session_scope; // sessions and tickets stay with the host that made them
mod session_store; // the external session cache (tlsb_session_store)
mod suite_bits; // key sizes of cipher suites (tlsb_cipher_suite_key_bits)
mod ticket_keys; // stateless session tickets (tlsb_ticket_keys_*)

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_client;

pub use certinfo::tlsb_cert_info;
pub use client::{tlsb_client_config, tlsb_client_config_params};
pub use client_verify::tlsb_client_verifier;
pub use config::{tlsb_server_config, tlsb_server_config_params};
pub use conn::tlsb_conn;
pub use ffi::{tlsb_error, tlsb_result, TLSB_NO_ALERT};
pub use key::tlsb_certified_key;
pub use session_store::tlsb_session_store;
pub use ticket_keys::tlsb_ticket_keys;
