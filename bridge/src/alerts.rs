//! rustls errors as bridge failures: which alert goes with which error, readable messages, and
//! the alert record the bridge writes itself when the caller rejects a ClientHello (rustls makes
//! the others, also before a ServerConnection exists: AcceptedAlert).

use rustls::{AlertDescription, Error};

use crate::ffi::*;
use crate::names::alert_str;

pub const UNEXPECTED_MESSAGE: u8 = 10;
pub const BAD_RECORD_MAC: u8 = 20;
pub const RECORD_OVERFLOW: u8 = 22;
pub const HANDSHAKE_FAILURE: u8 = 40;
pub const ILLEGAL_PARAMETER: u8 = 47;
pub const ACCESS_DENIED: u8 = 49;
pub const DECODE_ERROR: u8 = 50;
pub const PROTOCOL_VERSION: u8 = 70;
pub const INTERNAL_ERROR: u8 = 80;
pub const CERTIFICATE_REQUIRED: u8 = 116;
pub const NO_APPLICATION_PROTOCOL: u8 = 120;

/// A fatal alert record in plaintext (valid before encryption starts): level 2 (fatal).
pub fn fatal_alert_record(alert: u8) -> Vec<u8> {
    vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, alert]
}

/// The alert rustls sends (or should send) for `e`; None when the peer sent one.
pub fn alert_for(e: &Error) -> Option<u8> {
    Some(match e {
        Error::InappropriateMessage { .. } | Error::InappropriateHandshakeMessage { .. } => UNEXPECTED_MESSAGE,
        Error::InvalidMessage(_) => DECODE_ERROR,
        Error::PeerIncompatible(why) => {
            let why = format!("{:?}", why);
            if why.contains("Tls1") || why.contains("Version") {
                PROTOCOL_VERSION
            } else {
                HANDSHAKE_FAILURE
            }
        }
        Error::PeerMisbehaved(_) => ILLEGAL_PARAMETER,
        Error::NoCertificatesPresented => CERTIFICATE_REQUIRED,
        Error::InvalidCertificate(ce) => u8::from(AlertDescription::from(ce.clone())),
        Error::DecryptError => BAD_RECORD_MAC,
        Error::AlertReceived(_) => return None,
        Error::PeerSentOversizedRecord => RECORD_OVERFLOW,
        Error::NoApplicationProtocol => NO_APPLICATION_PROTOCOL,
        Error::UnsupportedNameType => ILLEGAL_PARAMETER,
        // rustls 0.23 refuses a ClientHello no configured certificate suits with access_denied.
        Error::General(why) if why.contains("no server certificate") => ACCESS_DENIED,
        _ => INTERNAL_ERROR,
    })
}

pub fn tls_failure(phase: &str, e: &Error) -> Failure {
    let (alert_received, message) = match e {
        Error::AlertReceived(a) => {
            let a = u8::from(*a);
            (Some(a), format!("{}: the client sent a fatal alert: {}", phase, alert_str(a)))
        }
        Error::InvalidMessage(_) => {
            (None, format!("{}: received corrupt message (the bytes are not valid TLS records: {})", phase, e))
        }
        Error::General(why) if why.contains("no server certificate") => (
            None,
            format!("{}: no configured certificate suits the client (none can sign with a scheme it offers)", phase),
        ),
        Error::PeerMisbehaved(rustls::PeerMisbehaved::InvalidKeyShare) => (
            None,
            format!("{}: the peer's key share is malformed (an invalid X25519 or ML-KEM-768 public value)", phase),
        ),
        Error::NoCertificatesPresented => (
            None,
            format!("{}: the client sent no certificate, but the host requires one (TLSClientCertificate required)", phase),
        ),
        _ => (None, format!("{}: {}", phase, e)),
    };
    Failure { code: TLSB_ERR_TLS, alert_sent: alert_for(e), alert_received, message }
}

const HTTP_METHODS: &[&[u8]] = &[
    b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"CONNECT ", b"TRACE ", b"PATCH ", b"PRI ",
];

/// The HTTP method the first bytes of a connection start with, if they look like plain HTTP.
pub fn plain_http_method(first: &[u8]) -> Option<&'static str> {
    if first.len() < 3 {
        return None;
    }
    HTTP_METHODS
        .iter()
        .find(|m| first.starts_with(m) || (first.len() < m.len() && m.starts_with(first)))
        .map(|m| std::str::from_utf8(&m[..m.len() - 1]).unwrap_or("?"))
}
