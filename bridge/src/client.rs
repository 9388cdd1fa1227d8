//! Client configs for TLS to backends (mod_proxy): trust anchors from PEM, the protocol versions
//! and suites, optional client certificates; and the failure texts of a client handshake.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, Error, RootCertStore, ServerName, SignatureScheme};

use crate::alerts::alert_for;
use crate::config::{suites_from, versions_from};
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
    pub ca_pem: *const u8,
    pub ca_len: usize,
    pub keys: *const *const tlsb_certified_key,
    pub keys_len: usize,
}

/// One base config and, made on first use, one per distinct ALPN list (configs are immutable
/// once shared; all of them share the base's session cache).
pub struct ClientConfigs {
    base: Arc<ClientConfig>,
    by_alpn: Mutex<Vec<(Vec<Vec<u8>>, Arc<ClientConfig>)>>,
}

impl ClientConfigs {
    pub fn for_alpn(&self, alpn: Vec<Vec<u8>>) -> Arc<ClientConfig> {
        if alpn.is_empty() {
            return self.base.clone();
        }
        // A poisoned lock only means another thread panicked while holding it; the list is
        // still consistent (entries are pushed whole).
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
    /// How many trust anchors the PEM gave.
    pub(crate) anchors: usize,
    poisoned: AtomicBool,
}

impl Handle for tlsb_client_config {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

/// The trust anchors in `pem` (CERTIFICATE blocks; other blocks are skipped).
pub fn root_store(pem: &[u8]) -> Res<RootCertStore> {
    let mut rd = pem;
    let ders = rustls_pemfile::certs(&mut rd)
        .map_err(|e| Failure::new(TLSB_ERR_PEM, format!("the CA file is not valid PEM: {}", e)))?;
    let mut store = RootCertStore::empty();
    let (valid, _invalid) = store.add_parsable_certificates(&ders);
    if valid == 0 {
        return Err(Failure::new(TLSB_ERR_PEM, "the CA file holds no usable CERTIFICATE (PEM)"));
    }
    Ok(store)
}

impl tlsb_client_config {
    pub fn from_params(p: &tlsb_client_config_params) -> Res<Self> {
        let versions = versions_from(p.versions, p.versions_len)?;
        let suites = suites_from(p.suites, p.suites_len)?;
        let store = root_store(in_bytes(p.ca_pem, p.ca_len, "params.ca_pem")?)?;
        let anchors = store.len();

        let mut keys = Vec::new();
        for k in in_array(p.keys, p.keys_len, "params.keys")? {
            if k.is_null() {
                return Err(Failure::null("params.keys[i]"));
            }
            // SAFETY: non-NULL key handles come from tlsb_certified_key_new and are alive.
            keys.push(unsafe { &**k }.key.clone());
        }
        let builder = ClientConfig::builder()
            .with_cipher_suites(&suites)
            .with_safe_default_kx_groups()
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

/// Presents the first configured certificate whose key can sign with a scheme the server accepts.
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

/// The name to verify and to send as SNI. IP literals are refused: rustls 0.20 sends no SNI for
/// them and webpki 0.22 cannot match a certificate's IP addresses.
pub fn server_name(name: &str) -> Res<ServerName> {
    let trimmed = name.trim_start_matches('[').trim_end_matches(']');
    if trimmed.parse::<std::net::IpAddr>().is_ok() {
        return Err(Failure::new(
            TLSB_ERR_CONFIG,
            format!(
                "the backend is addressed by the IP address {}; rustls 0.20 cannot verify a certificate \
                 for an IP address: address the backend by a host name its certificate names",
                trimmed
            ),
        ));
    }
    ServerName::try_from(name).map_err(|_| {
        Failure::new(TLSB_ERR_CONFIG, format!("'{}' is not a valid DNS name for TLS to a backend", name))
    })
}

/// A failure of a client connection: the peer is the server (backend).
pub fn client_failure(phase: &str, e: &Error) -> Failure {
    let mut alert_received = None;
    let text = match e {
        Error::AlertReceived(a) => {
            let a = a.get_u8();
            alert_received = Some(a);
            format!("the backend sent a fatal alert: {}", alert_str(a))
        }
        Error::InvalidCertificateData(why) => certificate_problem(why),
        Error::InvalidCertificateEncoding => "the backend's certificate is malformed".to_string(),
        Error::InvalidCertificateSignature => "the backend's certificate has an invalid signature".to_string(),
        Error::InvalidCertificateSignatureType => {
            "the backend's certificate uses an unsupported signature algorithm".to_string()
        }
        Error::UnsupportedNameType => "the backend's name is not a DNS name".to_string(),
        _ => e.to_string(),
    };
    Failure { code: TLSB_ERR_TLS, alert_sent: alert_for(e), alert_received, message: format!("{}: {}", phase, text) }
}

fn certificate_problem(why: &str) -> String {
    let detail = if why.contains("UnknownIssuer") {
        "it is not issued by a trusted CA (TLSProxyCA)"
    } else if why.contains("CertExpired") {
        "it has expired"
    } else if why.contains("CertNotValidYet") {
        "it is not valid yet"
    } else if why.contains("CertNotValidForName") {
        "it is not valid for the backend's host name"
    } else {
        return format!("the backend's certificate was refused: {}", why);
    };
    format!("the backend's certificate was refused: {} ({})", detail, why)
}

/// ALPN protocols from a list as mod_proxy writes them ("h2", "h2, http/1.1").
pub fn parse_alpn_list(list: &[u8]) -> Vec<Vec<u8>> {
    list.split(|b| *b == b',' || *b == b' ')
        .filter(|p| !p.is_empty() && p.len() <= 255)
        .map(|p| p.to_vec())
        .collect()
}
