//! Server configs: one immutable rustls ServerConfig per ALPN protocol (plus one without ALPN),
//! all sharing a certificate resolver that picks the first configured key the client can use.

use std::os::raw::c_int;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

use crate::ffi::*;
use crate::key::tlsb_certified_key;
use crate::ocsp::Staple;
use crate::session_scope::{scope_of, ScopedStore, ScopedTickets};

#[allow(non_camel_case_types)]
#[repr(C)]
pub struct tlsb_server_config_params {
    pub versions: *const u16,
    pub versions_len: usize,
    pub suites: *const u16,
    pub suites_len: usize,
    /// Key exchange groups by IANA id, in preference order; empty: all, in the default order.
    pub groups: *const u16,
    pub groups_len: usize,
    pub keys: *const *const tlsb_certified_key,
    pub keys_len: usize,
    pub honor_client_order: c_int,
    pub alpn: *const *const u8,
    pub alpn_lens: *const usize,
    pub alpn_len: usize,
    /// NULL: no client certificates asked for (TLSClientCertificate none).
    pub client_verifier: *const crate::client_verify::tlsb_client_verifier,
    /// NULL: per-process in-memory sessions (unless `no_session_cache`); else the external store.
    pub session_store: *const crate::session_store::tlsb_session_store,
    /// Nonzero: no session cache at all (TLSSessionCache none).
    pub no_session_cache: c_int,
    /// NULL: no tickets; else stateless tickets with these keys.
    pub ticket_keys: *const crate::ticket_keys::tlsb_ticket_keys,
    /// The host's identity; sessions and tickets resume only where it is the same.
    pub session_scope: *const u8,
    pub session_scope_len: usize,
}

#[allow(non_camel_case_types)]
pub struct tlsb_server_config {
    /// The config without ALPN.
    base: Arc<ServerConfig>,
    /// One config per ALPN protocol, each offering only that protocol.
    by_alpn: Vec<(Vec<u8>, Arc<ServerConfig>)>,
    poisoned: AtomicBool,
}

impl Handle for tlsb_server_config {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

impl tlsb_server_config {
    /// The prebuilt config for `alpn` (empty: none), or None if `alpn` is not in the list.
    pub fn for_alpn(&self, alpn: &[u8]) -> Option<Arc<ServerConfig>> {
        if alpn.is_empty() {
            return Some(self.base.clone());
        }
        self.by_alpn.iter().find(|(p, _)| p.as_slice() == alpn).map(|(_, c)| c.clone())
    }

    pub fn from_params(p: &tlsb_server_config_params) -> Res<Self> {
        let versions = versions_from(p.versions, p.versions_len)?;
        let suites = suites_from(p.suites, p.suites_len)?;
        let groups = crate::groups::groups_from(p.groups, p.groups_len)?;

        let mut keys = Vec::new();
        for k in in_array(p.keys, p.keys_len, "params.keys")? {
            keys.push(borrow(*k, "params.keys[i]")?.staple.clone());
        }
        if keys.is_empty() {
            return Err(Failure::new(TLSB_ERR_CONFIG, "a server config needs at least one certificate and key"));
        }

        let ptrs = in_array(p.alpn, p.alpn_len, "params.alpn")?;
        let lens = in_array(p.alpn_lens, p.alpn_len, "params.alpn_lens")?;
        let mut alpn: Vec<Vec<u8>> = Vec::new();
        for (ptr, len) in ptrs.iter().zip(lens.iter()) {
            let proto = in_bytes(*ptr, *len, "params.alpn[i]")?;
            if proto.is_empty() || proto.len() > 255 {
                return Err(Failure::new(TLSB_ERR_CONFIG, "an ALPN protocol name must be 1 to 255 bytes long"));
            }
            if !alpn.iter().any(|a| a.as_slice() == proto) {
                alpn.push(proto.to_vec());
            }
        }

        let usable: Vec<SupportedCipherSuite> = suites
            .iter()
            .filter(|s| versions.iter().any(|v| v.version == s.version().version))
            .copied()
            .collect();
        let resolver = Resolver { keys, suites: usable };
        let provider = crate::groups::provider(suites, groups);
        let verifier = match p.client_verifier.is_null() {
            true => rustls::server::WebPkiClientVerifier::no_client_auth(),
            false => borrow(p.client_verifier, "params.client_verifier")?.build(provider.clone())?,
        };
        let mut base = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| Failure::new(TLSB_ERR_CONFIG, format!("the TLS configuration is unusable: {}", e)))?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(resolver));
        base.ignore_client_order = p.honor_client_order == 0;
        // Sessions in a shared store or under shared ticket keys stay with this host.
        let scope = scope_of(in_bytes(p.session_scope, p.session_scope_len, "params.session_scope")?);
        if !p.session_store.is_null() {
            // SAFETY: non-NULL, and the caller passes a valid tlsb_session_store.
            let store = crate::session_store::CallbackStore::new(unsafe { &*p.session_store })
                .ok_or_else(|| Failure::null("params.session_store callbacks"))?;
            base.session_storage = Arc::new(ScopedStore { inner: Arc::new(store), scope });
        } else if p.no_session_cache != 0 {
            base.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        }
        if !p.ticket_keys.is_null() {
            let keys = borrow(p.ticket_keys, "params.ticket_keys")?.keys.clone();
            base.ticketer = Arc::new(ScopedTickets { inner: keys, scope });
        }

        let by_alpn = alpn
            .into_iter()
            .map(|proto| {
                let mut c = base.clone();
                c.alpn_protocols = vec![proto.clone()];
                (proto, Arc::new(c))
            })
            .collect();
        Ok(tlsb_server_config { base: Arc::new(base), by_alpn, poisoned: AtomicBool::new(false) })
    }
}

/// The protocol versions of a params array; empty: all that rustls supports.
pub(crate) fn versions_from(p: *const u16, len: usize) -> Res<Vec<&'static SupportedProtocolVersion>> {
    let versions = in_array(p, len, "params.versions")?.iter().map(|v| version(*v)).collect::<Res<Vec<_>>>()?;
    Ok(if versions.is_empty() { rustls::ALL_VERSIONS.to_vec() } else { versions })
}

/// The cipher suites of a params array, in order; empty: all that the provider implements.
pub(crate) fn suites_from(p: *const u16, len: usize) -> Res<Vec<SupportedCipherSuite>> {
    let suites = in_array(p, len, "params.suites")?.iter().map(|s| suite(*s)).collect::<Res<Vec<_>>>()?;
    Ok(if suites.is_empty() { rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec() } else { suites })
}

fn version(v: u16) -> Res<&'static SupportedProtocolVersion> {
    match v {
        0x0303 => Ok(&rustls::version::TLS12),
        0x0304 => Ok(&rustls::version::TLS13),
        _ => Err(Failure::new(TLSB_ERR_CONFIG, format!("unsupported TLS protocol version 0x{:04x}", v))),
    }
}

fn suite(id: u16) -> Res<SupportedCipherSuite> {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .find(|s| u16::from(s.suite()) == id)
        .copied()
        .ok_or_else(|| Failure::new(TLSB_ERR_CONFIG, format!("cipher suite 0x{:04x} is not supported by rustls", id)))
}

/// Picks the first configured key that can sign a scheme the client offers and, for a client
/// offering only TLS 1.2 suites, suits one of them; failing that, the first key that can sign.
#[derive(Debug)]
struct Resolver {
    keys: Vec<Arc<Staple>>,
    suites: Vec<SupportedCipherSuite>,
}

impl Resolver {
    fn choose(&self, schemes: &[rustls::SignatureScheme], offered: &[rustls::CipherSuite]) -> Option<Arc<CertifiedKey>> {
        let common: Vec<&SupportedCipherSuite> =
            self.suites.iter().filter(|s| offered.contains(&s.suite())).collect();
        let tls12_only = !common.iter().any(|s| matches!(s, SupportedCipherSuite::Tls13(_)));
        let mut fallback = None;
        for staple in &self.keys {
            let k = staple.base();
            if k.key.choose_scheme(schemes).is_none() {
                continue;
            }
            let alg = k.key.algorithm();
            if !tls12_only || common.iter().any(|s| s.usable_for_signature_algorithm(alg)) {
                return Some(staple.key());
            }
            fallback = fallback.or(Some(staple));
        }
        fallback.map(|s| s.key())
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = self.choose(hello.signature_schemes(), hello.cipher_suites());
        if let Some(k) = &chosen {
            crate::observe::chose_key(k);
        }
        chosen
    }
}

// ---- the C ABI: server configs --------------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_server_config_new(
    params: *const tlsb_server_config_params,
    out: *mut *mut tlsb_server_config,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = crate::ffi::out(out, "out")?;
        if params.is_null() {
            return Err(Failure::null("params"));
        }
        // SAFETY: non-NULL, and the caller passes a valid params struct.
        let params = unsafe { &*params };
        *out = into_handle(tlsb_server_config::from_params(params)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_server_config_free(config: *mut tlsb_server_config) {
    free_handle(config)
}
