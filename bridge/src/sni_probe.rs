//! Diagnostics only: finds an IP literal in a ClientHello's server_name extension. rustls 0.20
//! refuses such a ClientHello while decoding it (RFC 6066 forbids IP literals in SNI), and the
//! bytes cannot be rewritten first (the handshake transcript covers them), so the best we can do
//! is to say why the handshake failed.

use std::net::IpAddr;

/// A bounds-checked reader over untrusted bytes.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| b[0] as usize)
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2).map(|b| ((b[0] as usize) << 8) | b[1] as usize)
    }
    fn u24(&mut self) -> Option<usize> {
        self.take(3).map(|b| ((b[0] as usize) << 16) | ((b[1] as usize) << 8) | b[2] as usize)
    }
    fn vec_u8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(n)
    }
    fn vec_u16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// The IP literal a ClientHello (the connection's first TLS record) sends as SNI, if any.
pub fn ip_literal_sni(first_record: &[u8]) -> Option<String> {
    let mut record = Reader { rest: first_record };
    if record.u8()? != 0x16 {
        return None;
    }
    record.take(2)?; // legacy record version
    let len = record.u16()?;
    let mut hs = Reader { rest: record.take(len)? };
    if hs.u8()? != 0x01 {
        return None;
    }
    let body_len = hs.u24()?;
    let mut hello = Reader { rest: hs.take(body_len)? };
    hello.take(2 + 32)?; // client_version, random
    hello.vec_u8()?; // session_id
    hello.vec_u16()?; // cipher_suites
    hello.vec_u8()?; // compression_methods
    let mut exts = Reader { rest: hello.vec_u16()? };
    while !exts.rest.is_empty() {
        let ext_type = exts.u16()?;
        let data = exts.vec_u16()?;
        if ext_type != 0 {
            continue;
        }
        let mut list = Reader { rest: Reader { rest: data }.vec_u16()? };
        while !list.rest.is_empty() {
            let name_type = list.u8()?;
            let name = list.vec_u16()?;
            if name_type != 0 {
                continue;
            }
            let text = std::str::from_utf8(name).ok()?;
            if text.parse::<IpAddr>().is_ok() {
                return Some(text.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::ip_literal_sni;

    fn hello_with_sni(name: &[u8]) -> Vec<u8> {
        let mut sni = vec![0u8];
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        let mut list = (sni.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&sni);
        let mut ext = vec![0u8, 0];
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend_from_slice(&list);
        let mut body = vec![3u8, 3];
        body.extend_from_slice(&[0u8; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1u8, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16u8, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn finds_ip_literals_only() {
        assert_eq!(ip_literal_sni(&hello_with_sni(b"127.0.0.1")).as_deref(), Some("127.0.0.1"));
        assert_eq!(ip_literal_sni(&hello_with_sni(b"::1")).as_deref(), Some("::1"));
        assert_eq!(ip_literal_sni(&hello_with_sni(b"localhost")), None);
    }

    #[test]
    fn truncated_or_garbage_input_is_none() {
        let full = hello_with_sni(b"10.0.0.1");
        for cut in 0..full.len() {
            assert_eq!(ip_literal_sni(&full[..cut]), None, "cut at {}", cut);
        }
        assert_eq!(ip_literal_sni(b"GET / HTTP/1.1\r\n"), None);
    }
}
