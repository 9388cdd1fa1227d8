//! Client (backend) configs: rustls ClientConfigs that verify the backend's certificate against
//! the configured CAs and its host name, offer client certificates, and speak the ALPN protocols
//! mod_proxy asks for (one ClientConfig per ALPN list, made on first use).

use std::os::raw::c_int;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, ClientConfig, Error, RootCertStore, SignatureScheme};

use crate::alerts::alert_for;
use crate::config::{suites_from, versions_from};
use crate::conn::tlsb_conn;
use crate::ffi::*;
use crate::key::tlsb_certified_key;
use crate::names::alert_str;

#[allow(non_camel_case_types)]
#[repr(C)]
pub struct tlsb_client_config_params {
    pub versions: *const u16,
    pub versions_len: usize,
    pub suites: *const u16,
    pub suites_len: usize,
    /// Key exchange groups by IANA id, in preference order; empty: all, in the default order.
    pub groups: *const u16,
    pub groups_len: usize,
    pub ca_pem: *const u8,
    pub ca_len: usize,
    pub keys: *const *const tlsb_certified_key,
    pub keys_len: usize,
}

/// A backend config and its per-ALPN variants.
pub struct ClientConfigs {
    base: Arc<ClientConfig>,
    by_alpn: Mutex<Vec<(Vec<Vec<u8>>, Arc<ClientConfig>)>>,
}

impl ClientConfigs {
    /// The config offering exactly `alpn` (empty: no ALPN).
    pub fn for_alpn(&self, alpn: Vec<Vec<u8>>) -> Arc<ClientConfig> {
        if alpn.is_empty() {
            return self.base.clone();
        }
        let mut list = self.by_alpn.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = list.iter().find(|(a, _)| *a == alpn) {
            return c.clone();
        }
        let mut c = (*self.base).clone();
        c.alpn_protocols = alpn.clone();
        let c = Arc::new(c);
        list.push((alpn, c.clone()));
        c
    }
}

#[allow(non_camel_case_types)]
pub struct tlsb_client_config {
    pub(crate) configs: Arc<ClientConfigs>,
    pub(crate) anchors: usize,
    poisoned: AtomicBool,
}

impl Handle for tlsb_client_config {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

/// The trust anchors of a PEM CA file (certificates that do not parse are skipped).
pub fn root_store(pem: &[u8]) -> Res<RootCertStore> {
    let mut rd = pem;
    let ders = rustls_pemfile::certs(&mut rd)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::new(TLSB_ERR_PEM, format!("the CA file is not valid PEM: {}", e)))?;
    let mut store = RootCertStore::empty();
    let (valid, _invalid) = store.add_parsable_certificates(ders);
    if valid == 0 {
        return Err(Failure::new(TLSB_ERR_PEM, "the CA file holds no usable CERTIFICATE (PEM)"));
    }
    Ok(store)
}

impl tlsb_client_config {
    pub fn from_params(p: &tlsb_client_config_params) -> Res<Self> {
        let versions = versions_from(p.versions, p.versions_len)?;
        let suites = suites_from(p.suites, p.suites_len)?;
        let groups = crate::groups::groups_from(p.groups, p.groups_len)?;
        let store = root_store(in_bytes(p.ca_pem, p.ca_len, "params.ca_pem")?)?;
        let anchors = store.len();
        let mut keys = Vec::new();
        for k in in_array(p.keys, p.keys_len, "params.keys")? {
            keys.push(borrow(*k, "params.keys[i]")?.key.clone());
        }
        let builder = ClientConfig::builder_with_provider(crate::groups::provider(suites, groups))
            .with_protocol_versions(&versions)
            .map_err(|e| Failure::new(TLSB_ERR_CONFIG, format!("the TLS configuration is unusable: {}", e)))?
            .with_root_certificates(store);
        let config = if keys.is_empty() {
            builder.with_no_client_auth()
        } else {
            builder.with_client_cert_resolver(Arc::new(ClientKeys { keys }))
        };
        Ok(tlsb_client_config {
            configs: Arc::new(ClientConfigs { base: Arc::new(config), by_alpn: Mutex::new(Vec::new()) }),
            anchors,
            poisoned: AtomicBool::new(false),
        })
    }
}

/// Offers the first configured certificate whose key can sign with a scheme the backend accepts.
#[derive(Debug)]
struct ClientKeys {
    keys: Vec<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for ClientKeys {
    fn resolve(&self, _acceptable_issuers: &[&[u8]], schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.keys.iter().find(|k| k.key.choose_scheme(schemes).is_some()).cloned()
    }

    fn has_certs(&self) -> bool {
        !self.keys.is_empty()
    }
}

/// The name a backend is verified by and sent as SNI: a DNS name, or an IP address (verified
/// against the certificate's IP address SANs; no SNI is sent for it, as RFC 6066 requires).
pub fn server_name(name: &str) -> Res<ServerName<'static>> {
    // An IPv6 literal may come bracketed, as in a URL.
    let trimmed = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .filter(|n| n.parse::<std::net::Ipv6Addr>().is_ok())
        .unwrap_or(name);
    ServerName::try_from(trimmed.to_string()).map_err(|_| {
        Failure::new(TLSB_ERR_CONFIG, format!("'{}' is not a valid DNS name or IP address for TLS to a backend", name))
    })
}

/// A failure of a backend handshake, worded for the proxy's log line.
pub fn client_failure(phase: &str, e: &Error) -> Failure {
    let mut alert_received = None;
    let text = match e {
        Error::AlertReceived(a) => {
            let a = u8::from(*a);
            alert_received = Some(a);
            format!("the backend sent a fatal alert: {}", alert_str(a))
        }
        Error::InvalidCertificate(ce) => certificate_problem(ce),
        Error::UnsupportedNameType => "the backend's name is not a DNS name".to_string(),
        _ => e.to_string(),
    };
    Failure { code: TLSB_ERR_TLS, alert_sent: alert_for(e), alert_received, message: format!("{}: {}", phase, text) }
}

fn certificate_problem(ce: &CertificateError) -> String {
    use CertificateError::*;
    let detail = match ce {
        UnknownIssuer => "it is not issued by a trusted CA (TLSProxyCA)",
        Expired | ExpiredContext { .. } => "it has expired",
        NotValidYet | NotValidYetContext { .. } => "it is not valid yet",
        NotValidForName | NotValidForNameContext { .. } => "it is not valid for the backend's host name",
        BadEncoding => "it is malformed",
        BadSignature => "its signature is invalid",
        _ => return format!("the backend's certificate was refused: {}", ce),
    };
    format!("the backend's certificate was refused: {} ({})", detail, ce)
}

/// The protocols of a ','- or ' '-separated ALPN list (empty names and names over 255 bytes are
/// dropped).
pub fn parse_alpn_list(list: &[u8]) -> Vec<Vec<u8>> {
    list.split(|b| *b == b',' || *b == b' ')
        .filter(|p| !p.is_empty() && p.len() <= 255)
        .map(|p| p.to_vec())
        .collect()
}

// ---- the C ABI: client configs and connections (TLS to backends) ----------------------

#[no_mangle]
pub extern "C" fn tlsb_client_config_new(
    params: *const tlsb_client_config_params,
    out: *mut *mut tlsb_client_config,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = crate::ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        if params.is_null() {
            return Err(Failure::null("params"));
        }
        // SAFETY: non-NULL, and the caller passes a valid params struct.
        let params = unsafe { &*params };
        *out = into_handle(tlsb_client_config::from_params(params)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_client_config_free(config: *mut tlsb_client_config) {
    free_handle(config)
}

#[no_mangle]
pub extern "C" fn tlsb_client_config_anchor_count(config: *const tlsb_client_config) -> usize {
    value(config, 0, |c| c.anchors)
}

#[no_mangle]
pub extern "C" fn tlsb_conn_new_client(config: *const tlsb_client_config, out: *mut *mut tlsb_conn) -> tlsb_result {
    call(std::ptr::null_mut(), || {
        let out = crate::ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        let configs = borrow(config, "config")?.configs.clone();
        *out = into_handle(tlsb_conn::new_client(configs));
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_start_client(
    conn: *mut tlsb_conn,
    server_name: *const u8,
    name_len: usize,
    alpn_list: *const u8,
    alpn_len: usize,
    err: *mut tlsb_error,
) -> tlsb_result {
    with_mut(conn, err, |c| {
        let name = in_bytes(server_name, name_len, "server_name")?;
        let name = std::str::from_utf8(name).map_err(|_| Failure::invalid("the server name is not UTF-8"))?;
        let alpn = parse_alpn_list(in_bytes(alpn_list, alpn_len, "alpn_list")?);
        c.start_client(name, alpn)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_conn_is_client(conn: *const tlsb_conn) -> c_int {
    value(conn, 0, |c| c_int::from(c.is_client()))
}
