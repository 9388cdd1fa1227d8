//! Text of X.509 names and strings exactly as mod_ssl shows them through OpenSSL:
//! - a whole DN (`SSL_*_S_DN`, `SSL_*_I_DN`) as `X509_NAME_print_ex` with
//!   `XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB`: RDNs last-to-first, `,` between RDNs and `+`
//!   inside one, short attribute names (`CN`, `emailAddress`, unknown ones as dotted OIDs),
//!   RFC 2253 escapes, control characters as `\XX`, UTF-8 passed through, values of unknown
//!   attributes or string types as `#` + hex of their DER;
//! - one attribute value or SAN entry (`SSL_*_S_DN_CN`, `SSL_*_SAN_DNS_n`) as mod_ssl's
//!   `asn1_string_convert`: `ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT`, i.e. converted
//!   to UTF-8 with only control characters (`\XX`) and backslashes (`\\`) escaped.

use crate::der::{Tlv, CLASS_UNIVERSAL};

/// One attribute of a Name, in DER order.
pub struct Attribute<'a> {
    /// Dotted OID of the attribute type.
    pub oid: String,
    /// Index of the RDN (SET) it belongs to.
    pub rdn: usize,
    pub value: Tlv<'a>,
}

/// What OpenSSL knows about an attribute type: its short name, and mod_ssl's variable suffix
/// (`SSL_CLIENT_S_DN_<tag>`) when mod_ssl exports it.
struct AttrName {
    oid: &'static str,
    short: &'static str,
    modssl: &'static str,
}

const ATTRS: &[AttrName] = &[
    AttrName { oid: "2.5.4.3", short: "CN", modssl: "CN" },
    AttrName { oid: "2.5.4.4", short: "SN", modssl: "S" },
    AttrName { oid: "2.5.4.5", short: "serialNumber", modssl: "" },
    AttrName { oid: "2.5.4.6", short: "C", modssl: "C" },
    AttrName { oid: "2.5.4.7", short: "L", modssl: "L" },
    AttrName { oid: "2.5.4.8", short: "ST", modssl: "ST" },
    AttrName { oid: "2.5.4.9", short: "street", modssl: "" },
    AttrName { oid: "2.5.4.10", short: "O", modssl: "O" },
    AttrName { oid: "2.5.4.11", short: "OU", modssl: "OU" },
    AttrName { oid: "2.5.4.12", short: "title", modssl: "T" },
    AttrName { oid: "2.5.4.13", short: "description", modssl: "D" },
    AttrName { oid: "2.5.4.15", short: "businessCategory", modssl: "" },
    AttrName { oid: "2.5.4.16", short: "postalAddress", modssl: "" },
    AttrName { oid: "2.5.4.17", short: "postalCode", modssl: "" },
    AttrName { oid: "2.5.4.18", short: "postOfficeBox", modssl: "" },
    AttrName { oid: "2.5.4.20", short: "telephoneNumber", modssl: "" },
    AttrName { oid: "2.5.4.41", short: "name", modssl: "" },
    AttrName { oid: "2.5.4.42", short: "GN", modssl: "G" },
    AttrName { oid: "2.5.4.43", short: "initials", modssl: "I" },
    AttrName { oid: "2.5.4.44", short: "generationQualifier", modssl: "" },
    AttrName { oid: "2.5.4.45", short: "x500UniqueIdentifier", modssl: "" },
    AttrName { oid: "2.5.4.46", short: "dnQualifier", modssl: "" },
    AttrName { oid: "2.5.4.65", short: "pseudonym", modssl: "" },
    AttrName { oid: "2.5.4.72", short: "role", modssl: "" },
    AttrName { oid: "2.5.4.97", short: "organizationIdentifier", modssl: "" },
    AttrName { oid: "1.2.840.113549.1.9.1", short: "emailAddress", modssl: "Email" },
    AttrName { oid: "1.2.840.113549.1.9.2", short: "unstructuredName", modssl: "" },
    AttrName { oid: "1.2.840.113549.1.9.8", short: "unstructuredAddress", modssl: "" },
    AttrName { oid: "0.9.2342.19200300.100.1.1", short: "UID", modssl: "UID" },
    AttrName { oid: "0.9.2342.19200300.100.1.25", short: "DC", modssl: "" },
    AttrName { oid: "1.3.6.1.4.1.311.60.2.1.1", short: "jurisdictionL", modssl: "" },
    AttrName { oid: "1.3.6.1.4.1.311.60.2.1.2", short: "jurisdictionST", modssl: "" },
    AttrName { oid: "1.3.6.1.4.1.311.60.2.1.3", short: "jurisdictionC", modssl: "" },
];

fn attr_name(oid: &str) -> Option<&'static AttrName> {
    ATTRS.iter().find(|a| a.oid == oid)
}

/// mod_ssl's variable suffix for an attribute type ("CN", "Email"...), or "" if it has none.
pub fn modssl_tag(oid: &str) -> &'static str {
    attr_name(oid).map(|a| a.modssl).unwrap_or("")
}

/// Characters per string type as OpenSSL's `tag2nbyte`: Some(0) UTF-8 (bytes passed through),
/// Some(1) one byte per character (Latin-1), Some(2) UCS-2, Some(4) UCS-4; None: not a string.
fn char_width(v: &Tlv) -> Option<usize> {
    if v.class != CLASS_UNIVERSAL || v.constructed {
        return None;
    }
    match v.tag {
        12 => Some(0),
        18 | 19 | 20 | 22 | 23 | 24 | 26 => Some(1),
        28 => Some(4),
        30 => Some(2),
        _ => None,
    }
}

/// OpenSSL's `UTF8_putc` (which also encodes surrogates and values up to 0x7FFFFFFF).
fn put_utf8(out: &mut Vec<u8>, c: u32) {
    if c < 0x80 {
        out.push(c as u8);
    } else if c < 0x800 {
        out.extend_from_slice(&[0xC0 | (c >> 6) as u8, 0x80 | (c & 0x3F) as u8]);
    } else if c < 0x10000 {
        out.extend_from_slice(&[0xE0 | (c >> 12) as u8, 0x80 | ((c >> 6) & 0x3F) as u8, 0x80 | (c & 0x3F) as u8]);
    } else if c < 0x20_0000 {
        out.extend_from_slice(&[
            0xF0 | (c >> 18) as u8,
            0x80 | ((c >> 12) & 0x3F) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
    } else if c < 0x400_0000 {
        out.extend_from_slice(&[
            0xF8 | (c >> 24) as u8,
            0x80 | ((c >> 18) & 0x3F) as u8,
            0x80 | ((c >> 12) & 0x3F) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            0xFC | ((c >> 30) & 0x1) as u8,
            0x80 | ((c >> 24) & 0x3F) as u8,
            0x80 | ((c >> 18) & 0x3F) as u8,
            0x80 | ((c >> 12) & 0x3F) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
    }
}

/// The string as characters, each already as the UTF-8 bytes OpenSSL outputs for it (a UTF8String
/// is taken one byte per "character", unchanged). None when the length does not fit the width.
fn characters(content: &[u8], width: usize) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(content.len());
    match width {
        0 => out.extend(content.iter().map(|b| vec![*b])),
        1 => out.extend(content.iter().map(|b| {
            let mut v = Vec::new();
            put_utf8(&mut v, u32::from(*b));
            v
        })),
        2 | 4 => {
            if content.len() % width != 0 {
                return None;
            }
            for ch in content.chunks(width) {
                let c = ch.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
                let mut v = Vec::new();
                put_utf8(&mut v, c);
                out.push(v);
            }
        }
        _ => return None,
    }
    Some(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Escapes {
    /// ESC_2253 | ESC_CTRL (a DN).
    Rfc2253,
    /// ESC_CTRL only (one value).
    Ctrl,
}

/// OpenSSL's `do_esc_char` for one output byte (ESC_MSB off: bytes >= 0x80 pass unchanged).
fn escape_byte(out: &mut Vec<u8>, b: u8, esc: Escapes, first: bool, last: bool) {
    if b >= 0x80 {
        out.push(b);
        return;
    }
    let special = matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';');
    if esc == Escapes::Rfc2253 && (special || (first && (b == b'#' || b == b' ')) || (last && b == b' ')) {
        out.push(b'\\');
        out.push(b);
    } else if b < 0x20 || b == 0x7F {
        out.extend_from_slice(format!("\\{:02X}", b).as_bytes());
    } else if b == b'\\' {
        out.extend_from_slice(b"\\\\");
    } else {
        out.push(b);
    }
}

fn escape_chars(out: &mut Vec<u8>, chars: &[Vec<u8>], esc: Escapes) {
    let n = chars.len();
    for (i, c) in chars.iter().enumerate() {
        for b in c {
            escape_byte(out, *b, esc, i == 0, i + 1 == n);
        }
    }
}

fn hex_dump(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'#');
    for b in bytes {
        out.extend_from_slice(format!("{:02X}", b).as_bytes());
    }
}

/// One value as mod_ssl's `asn1_string_convert(p, s, 0)` prints it.
pub fn value_text(v: &Tlv) -> Vec<u8> {
    let mut out = Vec::new();
    // Not a string type: OpenSSL prints the content bytes one per character.
    let width = char_width(v).unwrap_or(1);
    match characters(v.content, width) {
        Some(chars) => escape_chars(&mut out, &chars, Escapes::Ctrl),
        None => hex_dump(&mut out, v.raw),
    }
    out
}

/// A DN as mod_ssl's default `SSL_*_S_DN` / `SSL_*_I_DN` (RFC 2253 order and escapes).
pub fn dn_text(attrs: &[Attribute]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev_rdn: Option<usize> = None;
    for a in attrs.iter().rev() {
        if let Some(p) = prev_rdn {
            out.push(if p == a.rdn { b'+' } else { b',' });
        }
        prev_rdn = Some(a.rdn);
        let known = attr_name(&a.oid);
        match known {
            Some(n) => out.extend_from_slice(n.short.as_bytes()),
            None => out.extend_from_slice(a.oid.as_bytes()),
        }
        out.push(b'=');
        let chars = if known.is_some() { char_width(&a.value).and_then(|w| characters(a.value.content, w)) } else { None };
        match chars {
            Some(chars) => escape_chars(&mut out, &chars, Escapes::Rfc2253),
            None => hex_dump(&mut out, a.value.raw),
        }
    }
    out
}
