#!/usr/bin/python3
"""Writes dn-edge.crt: a self-signed certificate whose DN exercises the printing corner cases
(escapes, control characters, BMPString, T61String, an unknown attribute OID, a multi-valued RDN)
for the certificate-field tests. Run with Debian's python3 (python3-cryptography)."""
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

key = serialization.load_pem_private_key(open("ecdsa-p256.key", "rb").read(), None)
A = x509.NameAttribute
name = x509.Name([
    x509.RelativeDistinguishedName([A(NameOID.COUNTRY_NAME, "DE")]),
    x509.RelativeDistinguishedName([A(NameOID.LOCALITY_NAME, "Caf\xe9", _ASN1Type.T61String)]),
    x509.RelativeDistinguishedName([A(NameOID.ORGANIZATION_NAME, "ctl\x01\x1f\x7fend")]),
    x509.RelativeDistinguishedName([A(NameOID.ORGANIZATIONAL_UNIT_NAME, "Bmp \u00dc\u20ac", _ASN1Type.BMPString)]),
    x509.RelativeDistinguishedName([A(x509.ObjectIdentifier("1.2.3.4.5"), "unknown")]),
    x509.RelativeDistinguishedName([A(NameOID.COMMON_NAME, " #lead,+\"\\<>;=trail "),
                                    A(NameOID.SURNAME, "multi")]),
])
now = datetime.datetime(2026, 1, 2, 3, 4, 5)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(0x01)
        .not_valid_before(now).not_valid_after(datetime.datetime(2049, 12, 31, 23, 59, 59))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("a\\b@example.test"),
                                                    x509.DNSName("edge.example.test")]), False)
        .sign(key, hashes.SHA256()))
open("dn-edge.crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
