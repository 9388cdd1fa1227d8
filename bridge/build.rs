//! Tells the bridge which rustls it is built with (SSL_VERSION_LIBRARY): the version cargo
//! resolved in Cargo.lock, which is the one linked.
use std::fs;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = fs::read_to_string("Cargo.lock").expect("Cargo.lock (cargo writes it before building)");
    let mut lines = lock.lines();
    let mut version = None;
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"rustls\"" {
            version = lines.next().and_then(|v| v.trim().strip_prefix("version = \"")).map(|v| v.trim_end_matches('"').to_string());
            break;
        }
    }
    let version = version.expect("rustls in Cargo.lock");
    println!("cargo:rustc-env=TLSB_RUSTLS_VERSION={}", version);
}
