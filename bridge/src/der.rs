//! A small DER walker on top of der-parser's header parsing: each element is read as a TLV with its
//! content and its complete encoding as slices of the input, so callers can descend into
//! structures by hand (X.509 has no parser in Debian's archive) and keep raw encodings.

use std::borrow::Cow;

use der_parser::ber::Length;
use der_parser::der::der_read_element_header;
use der_parser::oid::Oid;

use crate::ffi::{Failure, Res};

pub const CLASS_UNIVERSAL: u8 = 0;
pub const CLASS_CONTEXT: u8 = 2;

pub const TAG_BOOLEAN: u32 = 1;
pub const TAG_INTEGER: u32 = 2;
pub const TAG_OCTET_STRING: u32 = 4;
pub const TAG_OID: u32 = 6;
pub const TAG_SEQUENCE: u32 = 16;
pub const TAG_SET: u32 = 17;
pub const TAG_UTC_TIME: u32 = 23;
pub const TAG_GENERALIZED_TIME: u32 = 24;

/// One DER element.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub class: u8,
    pub constructed: bool,
    pub tag: u32,
    /// The content octets.
    pub content: &'a [u8],
    /// The whole element: identifier, length and content.
    pub raw: &'a [u8],
}

pub fn malformed(what: &str) -> Failure {
    Failure::invalid(format!("malformed certificate: {}", what))
}

impl<'a> Tlv<'a> {
    /// Reads one element from the front of `input`; returns it and what follows.
    pub fn read(input: &'a [u8], what: &str) -> Res<(Tlv<'a>, &'a [u8])> {
        let (rest, hdr) = der_read_element_header(input).map_err(|_| malformed(what))?;
        let len = match hdr.length() {
            Length::Definite(l) => l,
            Length::Indefinite => return Err(malformed(what)),
        };
        if rest.len() < len {
            return Err(malformed(what));
        }
        let (content, after) = rest.split_at(len);
        let raw = &input[..input.len() - after.len()];
        let tlv = Tlv { class: hdr.class() as u8, constructed: hdr.is_constructed(), tag: hdr.tag().0, content, raw };
        Ok((tlv, after))
    }

    pub fn is(&self, class: u8, tag: u32) -> bool {
        self.class == class && self.tag == tag
    }

    pub fn is_universal(&self, tag: u32) -> bool {
        self.is(CLASS_UNIVERSAL, tag)
    }

    /// The elements inside a constructed element.
    pub fn children(&self, what: &str) -> Res<Reader<'a>> {
        if !self.constructed {
            return Err(malformed(what));
        }
        Ok(Reader { rest: self.content })
    }

    /// The dotted form of an OBJECT IDENTIFIER element, e.g. "2.5.4.3".
    pub fn oid(&self, what: &str) -> Res<String> {
        if !self.is_universal(TAG_OID) || self.content.is_empty() {
            return Err(malformed(what));
        }
        Ok(Oid::new(Cow::Borrowed(self.content)).to_id_string())
    }
}

/// Reads consecutive elements.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The next element, or None at the end.
    pub fn next(&mut self, what: &str) -> Res<Option<Tlv<'a>>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (tlv, rest) = Tlv::read(self.rest, what)?;
        self.rest = rest;
        Ok(Some(tlv))
    }

    /// The next element, which must exist.
    pub fn expect(&mut self, what: &str) -> Res<Tlv<'a>> {
        self.next(what)?.ok_or_else(|| malformed(what))
    }

    /// The next element if it is [n] (context-specific), else nothing is consumed.
    pub fn optional_context(&mut self, n: u32, what: &str) -> Res<Option<Tlv<'a>>> {
        let mut probe = *self;
        match probe.next(what)? {
            Some(t) if t.is(CLASS_CONTEXT, n) => {
                *self = probe;
                Ok(Some(t))
            }
            _ => Ok(None),
        }
    }
}
