//! Certificate fields for the SSL_{CLIENT,SERVER}_* variables: one DER certificate parsed by hand
//! (X.509 on top of der-parser's DER elements) into the texts mod_ssl shows, computed once.

use std::sync::atomic::AtomicBool;

use base64::Engine;

use crate::der::*;
use crate::dn::{self, Attribute};
use crate::ffi::*;
use std::os::raw::c_char;

/// `tlsb_cert_field` from tls_bridge.h.
pub const FIELD_VERSION: u32 = 0;
pub const FIELD_SERIAL: u32 = 1;
pub const FIELD_SUBJECT_DN: u32 = 2;
pub const FIELD_ISSUER_DN: u32 = 3;
pub const FIELD_NOT_BEFORE: u32 = 4;
pub const FIELD_NOT_AFTER: u32 = 5;
pub const FIELD_SIG_ALG: u32 = 6;
pub const FIELD_KEY_ALG: u32 = 7;
pub const FIELD_PEM: u32 = 8;

/// `tlsb_cert_name` and `tlsb_san_type` from tls_bridge.h.
pub const NAME_SUBJECT: u32 = 0;
pub const NAME_ISSUER: u32 = 1;
pub const SAN_EMAIL: u32 = 1;
pub const SAN_DNS: u32 = 2;

/// One attribute of a DN as mod_ssl exports it.
pub struct DnEntry {
    /// mod_ssl's name ("CN", "Email"...), or "" for attributes mod_ssl has no variable for.
    pub tag: &'static str,
    pub value: Vec<u8>,
}

/// mod_ssl's attribute name as a static C string ("" for none).
pub fn tag_cstr(tag: &str) -> *const std::os::raw::c_char {
    let s: &'static [u8] = match tag {
        "C" => b"C\0",
        "ST" => b"ST\0",
        "L" => b"L\0",
        "O" => b"O\0",
        "OU" => b"OU\0",
        "CN" => b"CN\0",
        "T" => b"T\0",
        "I" => b"I\0",
        "G" => b"G\0",
        "S" => b"S\0",
        "D" => b"D\0",
        "UID" => b"UID\0",
        "Email" => b"Email\0",
        _ => b"\0",
    };
    cstr(s)
}

/// A UTCTime/GeneralizedTime as written in the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Time {
    utc: bool,
    year: i64, // full year as OpenSSL prints it (UTCTime: 50-99 -> 19xx, else 20xx)
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

#[allow(non_camel_case_types)]
pub struct tlsb_cert_info {
    fields: [Vec<u8>; 9],
    subject: Vec<DnEntry>,
    issuer: Vec<DnEntry>,
    san_dns: Vec<Vec<u8>>,
    san_email: Vec<Vec<u8>>,
    not_after: Option<Time>,
    poisoned: AtomicBool,
}

impl Handle for tlsb_cert_info {
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

impl tlsb_cert_info {
    pub fn field(&self, which: u32) -> Res<&[u8]> {
        self.fields.get(which as usize).map(|v| v.as_slice()).ok_or_else(|| Failure::invalid("unknown certificate field"))
    }

    pub fn dn(&self, which: u32) -> Res<&[DnEntry]> {
        match which {
            NAME_SUBJECT => Ok(&self.subject),
            NAME_ISSUER => Ok(&self.issuer),
            _ => Err(Failure::invalid("unknown name (0 subject, 1 issuer)")),
        }
    }

    pub fn san(&self, kind: u32) -> Res<&[Vec<u8>]> {
        match kind {
            SAN_DNS => Ok(&self.san_dns),
            SAN_EMAIL => Ok(&self.san_email),
            _ => Err(Failure::invalid("unknown subjectAltName type (1 email, 2 DNS)")),
        }
    }

    /// Whole days from `now` (seconds since the epoch) until notAfter, 0 once expired: what
    /// Debian's mod_ssl 2.4 shows as SSL_CLIENT_V_REMAIN (checked against it).
    pub fn days_remaining(&self, now: i64) -> i64 {
        match self.not_after.map(epoch_seconds) {
            Some(then) => {
                let diff = (then - now) / 86400;
                if diff > 0 {
                    diff
                } else {
                    0
                }
            }
            None => 0,
        }
    }

    pub fn from_der(der: &[u8]) -> Res<Self> {
        let (cert, rest) = Tlv::read(der, "Certificate")?;
        if !rest.is_empty() || !cert.is_universal(TAG_SEQUENCE) {
            return Err(malformed("Certificate is not one SEQUENCE"));
        }
        let mut c = cert.children("Certificate")?;
        let tbs = c.expect("tbsCertificate")?;
        if !tbs.is_universal(TAG_SEQUENCE) {
            return Err(malformed("tbsCertificate"));
        }
        let mut t = tbs.children("tbsCertificate")?;

        let version = match t.optional_context(0, "version")? {
            Some(v) => {
                let int = v.children("version")?.expect("version")?;
                if !int.is_universal(TAG_INTEGER) || int.content.len() != 1 || int.content[0] > 0x7F {
                    return Err(malformed("version"));
                }
                u32::from(int.content[0]) + 1
            }
            None => 1,
        };
        let serial = t.expect("serialNumber")?;
        if !serial.is_universal(TAG_INTEGER) || serial.content.is_empty() {
            return Err(malformed("serialNumber"));
        }
        let sig_alg = algorithm_oid(t.expect("signature")?, "signature")?;
        let issuer = name_attributes(t.expect("issuer")?, "issuer")?;
        let validity = t.expect("validity")?;
        if !validity.is_universal(TAG_SEQUENCE) {
            return Err(malformed("validity"));
        }
        let mut v = validity.children("validity")?;
        let not_before = parse_time(&v.expect("notBefore")?);
        let not_after = parse_time(&v.expect("notAfter")?);
        let subject = name_attributes(t.expect("subject")?, "subject")?;
        let spki = t.expect("subjectPublicKeyInfo")?;
        if !spki.is_universal(TAG_SEQUENCE) {
            return Err(malformed("subjectPublicKeyInfo"));
        }
        let key_alg = algorithm_oid(spki.children("subjectPublicKeyInfo")?.expect("algorithm")?, "algorithm")?;
        t.optional_context(1, "issuerUniqueID")?;
        t.optional_context(2, "subjectUniqueID")?;
        let (mut san_dns, mut san_email) = (Vec::new(), Vec::new());
        if let Some(exts) = t.optional_context(3, "extensions")? {
            read_san(exts, &mut san_dns, &mut san_email)?;
        }

        let entries = |attrs: &[Attribute]| -> Vec<DnEntry> {
            attrs.iter().map(|a| DnEntry { tag: dn::modssl_tag(&a.oid), value: dn::value_text(&a.value) }).collect()
        };
        let mut fields: [Vec<u8>; 9] = Default::default();
        fields[FIELD_VERSION as usize] = version.to_string().into_bytes();
        fields[FIELD_SERIAL as usize] = serial_text(serial.content).into_bytes();
        fields[FIELD_SUBJECT_DN as usize] = dn::dn_text(&subject);
        fields[FIELD_ISSUER_DN as usize] = dn::dn_text(&issuer);
        fields[FIELD_NOT_BEFORE as usize] = not_before.map(time_text).unwrap_or_default().into_bytes();
        fields[FIELD_NOT_AFTER as usize] = not_after.map(time_text).unwrap_or_default().into_bytes();
        fields[FIELD_SIG_ALG as usize] = algorithm_name(&sig_alg).as_bytes().to_vec();
        fields[FIELD_KEY_ALG as usize] = algorithm_name(&key_alg).as_bytes().to_vec();
        fields[FIELD_PEM as usize] = pem(der).into_bytes();
        Ok(tlsb_cert_info {
            fields,
            subject: entries(&subject),
            issuer: entries(&issuer),
            san_dns,
            san_email,
            not_after,
            poisoned: AtomicBool::new(false),
        })
    }
}

/// The OID of an AlgorithmIdentifier.
pub(crate) fn algorithm_oid(alg: Tlv, what: &str) -> Res<String> {
    if !alg.is_universal(TAG_SEQUENCE) {
        return Err(malformed(what));
    }
    alg.children(what)?.expect(what)?.oid(what)
}

/// Algorithm names as OpenSSL's long names (`OBJ_nid2ln`), which mod_ssl's A_SIG/A_KEY show.
fn algorithm_name(oid: &str) -> &'static str {
    match oid {
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.7" => "rsaesOaep",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.1" => "dsaEncryption",
        "1.2.840.10040.4.3" => "dsaWithSHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa_with_SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        _ => "UNKNOWN",
    }
}

/// The attributes of a Name (SEQUENCE OF SET OF AttributeTypeAndValue), in DER order.
pub(crate) fn name_attributes<'a>(name: Tlv<'a>, what: &str) -> Res<Vec<Attribute<'a>>> {
    if !name.is_universal(TAG_SEQUENCE) {
        return Err(malformed(what));
    }
    let mut out = Vec::new();
    let mut rdns = name.children(what)?;
    let mut index = 0;
    while let Some(rdn) = rdns.next(what)? {
        if !rdn.is_universal(TAG_SET) {
            return Err(malformed(what));
        }
        let mut avas = rdn.children(what)?;
        while let Some(ava) = avas.next(what)? {
            if !ava.is_universal(TAG_SEQUENCE) {
                return Err(malformed(what));
            }
            let mut parts = ava.children(what)?;
            let oid = parts.expect(what)?.oid(what)?;
            let value = parts.expect(what)?;
            out.push(Attribute { oid, rdn: index, value });
        }
        index += 1;
    }
    Ok(out)
}

/// DNS names and e-mail addresses of the subjectAltName extension, in order.
fn read_san(exts: Tlv, dns: &mut Vec<Vec<u8>>, email: &mut Vec<Vec<u8>>) -> Res<()> {
    let seq = exts.children("extensions")?.expect("extensions")?;
    if !seq.is_universal(TAG_SEQUENCE) {
        return Err(malformed("extensions"));
    }
    let mut list = seq.children("extensions")?;
    while let Some(ext) = list.next("extension")? {
        let mut parts = ext.children("extension")?;
        if parts.expect("extnID")?.oid("extnID")? != "2.5.29.17" {
            continue;
        }
        let mut value = parts.expect("extension value")?;
        if value.is_universal(TAG_BOOLEAN) {
            value = parts.expect("extension value")?;
        }
        if !value.is_universal(TAG_OCTET_STRING) {
            return Err(malformed("subjectAltName"));
        }
        let (names, _) = Tlv::read(value.content, "subjectAltName")?;
        let mut names = names.children("subjectAltName")?;
        while let Some(gn) = names.next("GeneralName")? {
            if gn.is(CLASS_CONTEXT, 1) && !gn.constructed {
                email.push(ia5_text(gn));
            } else if gn.is(CLASS_CONTEXT, 2) && !gn.constructed {
                dns.push(ia5_text(gn));
            }
        }
        break; // one subjectAltName extension is allowed
    }
    Ok(())
}

/// An implicitly tagged IA5String as mod_ssl converts it.
fn ia5_text(gn: Tlv) -> Vec<u8> {
    dn::value_text(&Tlv { class: CLASS_UNIVERSAL, tag: 22, ..gn })
}

/// The serial number as OpenSSL's `i2a_ASN1_INTEGER`: uppercase hex of the magnitude's bytes
/// ("-" first when negative, "00" for zero, a backslash-newline every 35 bytes).
pub fn serial_text(content: &[u8]) -> String {
    let negative = content.first().map(|b| b & 0x80 != 0).unwrap_or(false);
    let mut magnitude: Vec<u8> = content.to_vec();
    if negative {
        // Two's complement negation.
        let mut carry = 1u16;
        for b in magnitude.iter_mut().rev() {
            let v = u16::from(!*b) + carry;
            *b = v as u8;
            carry = v >> 8;
        }
    }
    let start = magnitude.iter().position(|b| *b != 0).unwrap_or(magnitude.len());
    let magnitude = &magnitude[start..];
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if magnitude.is_empty() {
        out.push_str("00");
    }
    for (i, b) in magnitude.iter().enumerate() {
        if i != 0 && i % 35 == 0 {
            out.push_str("\\\n");
        }
        out.push_str(&format!("{:02X}", b));
    }
    out
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.iter().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
}

/// UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSS[.f]Z (as DER requires).
pub(crate) fn parse_time(t: &Tlv) -> Option<Time> {
    let s = t.content;
    let (utc, year, rest) = if t.is_universal(TAG_UTC_TIME) {
        let yy = digits(s.get(0..2)?)?;
        (true, if yy < 50 { 2000 + yy } else { 1900 + yy }, s.get(2..)?)
    } else if t.is_universal(TAG_GENERALIZED_TIME) {
        (false, digits(s.get(0..4)?)?, s.get(4..)?)
    } else {
        return None;
    };
    if rest.len() < 11 || rest[rest.len() - 1] != b'Z' {
        return None;
    }
    let time = Time {
        utc,
        year,
        month: digits(&rest[0..2])?,
        day: digits(&rest[2..4])?,
        hour: digits(&rest[4..6])?,
        minute: digits(&rest[6..8])?,
        second: digits(&rest[8..10])?,
    };
    let frac = &rest[10..rest.len() - 1];
    let frac_ok = frac.is_empty() || (!utc && frac.len() > 1 && frac[0] == b'.' && digits(&frac[1..]).is_some());
    let valid = (1..=12).contains(&time.month)
        && (1..=31).contains(&time.day)
        && time.hour < 24
        && time.minute < 60
        && time.second < 61;
    if valid && frac_ok {
        Some(time)
    } else {
        None
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// As OpenSSL's `ASN1_TIME_print`: "Nov 25 15:36:59 2026 GMT" (day padded with a space).
pub(crate) fn time_text(t: Time) -> String {
    format!(
        "{} {:2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[(t.month - 1) as usize],
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.year
    )
}

/// A certificate time as seconds since the epoch (UTC; proleptic Gregorian calendar).
pub(crate) fn epoch_seconds(t: Time) -> i64 {
    // Days since 1 March 1900, then since 1 January 1970 (years counted from March).
    const DAY_OFFSET: [i64; 12] = [306, 337, 0, 31, 61, 92, 122, 153, 184, 214, 245, 275];
    let mon = (t.month - 1) as usize;
    let year = t.year - 1900 - if mon < 2 { 1 } else { 0 };
    let mut days = year * 365 + year.div_euclid(4) - year.div_euclid(100) + (year.div_euclid(100) + 3).div_euclid(4);
    days += DAY_OFFSET[mon] + t.day - 1 - 25508;
    ((days * 24 + t.hour) * 60 + t.minute) * 60 + t.second
}

/// PEM as OpenSSL's PEM_write_X509: 64 base64 characters per line, ending with a newline.
fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn serials_print_as_openssl() {
        assert_eq!(serial_text(&[0x00, 0xAB, 0x01]), "AB01");
        assert_eq!(serial_text(&[0x0F, 0xAB]), "0FAB");
        assert_eq!(serial_text(&[0x00]), "00");
        assert_eq!(serial_text(&[0xFF]), "-01");
        assert_eq!(serial_text(&[0xFF, 0x00]), "-0100");
    }

    #[test]
    fn epoch_of_certificate_times() {
        let t = |year, month, day, hour, minute, second| Time { utc: false, year, month, day, hour, minute, second };
        assert_eq!(epoch_seconds(t(1970, 1, 1, 0, 0, 0)), 0);
        assert_eq!(epoch_seconds(t(2026, 11, 25, 15, 36, 59)), 1795621019);
        assert_eq!(epoch_seconds(t(2000, 2, 29, 12, 0, 0)), 951825600);
        assert_eq!(epoch_seconds(t(2049, 12, 31, 23, 59, 59)), 2524607999);
        assert_eq!(epoch_seconds(t(2126, 11, 1, 15, 43, 22)), 4949221402);
        assert_eq!(epoch_seconds(t(1950, 1, 1, 0, 0, 0)), -631152000);
    }
}

// ---- the C ABI: certificate fields ----------------------------------------------------

#[no_mangle]
pub extern "C" fn tlsb_cert_info_new(
    der: *const u8,
    len: usize,
    out: *mut *mut tlsb_cert_info,
    err: *mut tlsb_error,
) -> tlsb_result {
    call(err, || {
        let out = crate::ffi::out(out, "out")?;
        *out = std::ptr::null_mut();
        if der.is_null() {
            return Err(Failure::null("der"));
        }
        *out = into_handle(tlsb_cert_info::from_der(in_bytes(der, len, "der")?)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_free(info: *mut tlsb_cert_info) {
    free_handle(info)
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_field(
    info: *const tlsb_cert_info,
    field: u32,
    text: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(info, std::ptr::null_mut(), |i| {
        let text = crate::ffi::out(text, "text")?;
        let len = crate::ffi::out(len, "len")?;
        put_span(text, len, i.field(field)?);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_dn_count(info: *const tlsb_cert_info, name: u32) -> usize {
    value(info, 0, |i| i.dn(name).map(|d| d.len()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_dn_entry(
    info: *const tlsb_cert_info,
    name: u32,
    index: usize,
    tag: *mut *const c_char,
    value_out: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(info, std::ptr::null_mut(), |i| {
        let tag = crate::ffi::out(tag, "tag")?;
        let value_out = crate::ffi::out(value_out, "value")?;
        let len = crate::ffi::out(len, "len")?;
        let entry = i.dn(name)?.get(index).ok_or_else(|| Failure::invalid("DN entry index out of range"))?;
        *tag = tag_cstr(entry.tag);
        put_span(value_out, len, &entry.value);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_san_count(info: *const tlsb_cert_info, kind: u32) -> usize {
    value(info, 0, |i| i.san(kind).map(|d| d.len()).unwrap_or(0))
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_san(
    info: *const tlsb_cert_info,
    kind: u32,
    index: usize,
    value_out: *mut *const u8,
    len: *mut usize,
) -> tlsb_result {
    with_ref(info, std::ptr::null_mut(), |i| {
        let value_out = crate::ffi::out(value_out, "value")?;
        let len = crate::ffi::out(len, "len")?;
        let v = i.san(kind)?.get(index).ok_or_else(|| Failure::invalid("subjectAltName index out of range"))?;
        put_span(value_out, len, v);
        Ok(TLSB_OK)
    })
}

#[no_mangle]
pub extern "C" fn tlsb_cert_info_days_remaining(info: *const tlsb_cert_info, now: i64) -> i64 {
    value(info, 0, |i| i.days_remaining(now))
}
