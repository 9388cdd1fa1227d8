//! A load client for `make bench`: full TLS 1.3 handshakes offering one key exchange group, made
//! with rustls and the bridge's own X25519MLKEM768, because Debian 12's OpenSSL (3.0) cannot offer
//! the post-quantum hybrid. Each connection: connect, full handshake (no resumption), one
//! `GET <path> HTTP/1.0`, read to the end, close.
//!
//! Like the bench's other clients it does not verify the server's certificate (the bench's are
//! self-signed), but it checks the handshake signature with it.
//!
//! Usage: handshake_load HOST PORT SERVER_NAME GROUP SECONDS PATH
//!   GROUP: X25519MLKEM768 or x25519. Prints "connections N failures M group G".

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, SignatureScheme};

/// Accepts any certificate; checks the handshake signatures with it.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: handshake_load HOST PORT SERVER_NAME GROUP SECONDS PATH");
        std::process::exit(2);
    }
    let (host, port, name, group, seconds, path) = (&args[1], &args[2], &args[3], &args[4], &args[5], &args[6]);
    let group: &'static dyn SupportedKxGroup = match group.as_str() {
        "X25519MLKEM768" => tls_bridge::kx_mlkem::X25519MLKEM768,
        "x25519" => rustls::crypto::ring::kx_group::X25519,
        other => {
            eprintln!("unknown group {}", other);
            std::process::exit(2);
        }
    };
    let provider = Arc::new(CryptoProvider { kx_groups: vec![group], ..rustls::crypto::ring::default_provider() });
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    let config = Arc::new(config);
    let server_name = ServerName::try_from(name.clone()).expect("server name");
    let request = format!("GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", path, name);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds.parse().expect("seconds"));
    let (mut done, mut failed) = (0u64, 0u64);
    let mut negotiated = String::from("-");
    while Instant::now() < deadline {
        let one = || -> Result<String, Box<dyn std::error::Error>> {
            let mut sock = TcpStream::connect(format!("{}:{}", host, port))?;
            sock.set_nodelay(true)?;
            let mut conn = rustls::ClientConnection::new(config.clone(), server_name.clone())?;
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            tls.write_all(request.as_bytes())?;
            let mut body = Vec::new();
            match tls.read_to_end(&mut body) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
                Err(e) => return Err(e.into()),
            }
            if !body.starts_with(b"HTTP/1.") {
                return Err("no HTTP response".into());
            }
            let g = conn.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name())).unwrap_or_default();
            Ok(g)
        };
        match one() {
            Ok(g) => {
                done += 1;
                negotiated = g;
            }
            Err(_) => failed += 1,
        }
    }
    println!("connections {} failures {} group {}", done, failed, negotiated);
}
