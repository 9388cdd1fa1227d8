"""Test PKI for the integration suite, generated with python3-cryptography.

Layout of the generated directory (mode 0755, files 0644):

    root.crt                    self-signed root CA ("mod_tls Test Root CA")
    intermediate.crt            intermediate CA issued by the root
    localhost-<kt>.crt/.key     leaf for "localhost" issued by the root, one per key type
                                kt in KEY_TYPES; keys in PKCS#8 PEM
    localhost-rsa2048-pkcs1.key the rsa2048 key as PKCS#1 ("BEGIN RSA PRIVATE KEY")
    localhost-p256-sec1.key     the p256 key as SEC1 ("BEGIN EC PRIVATE KEY")
    localhost-rsa2048-encrypted.key   the rsa2048 key, encrypted PKCS#8
    chain-leaf.crt/.key         leaf issued by the intermediate; the .crt holds leaf + intermediate
    combined-p256.pem           leaf certificate followed by its key (one file)
    mismatch.crt/.key           a leaf and the key of a *different* certificate
    expired.crt/.key            a leaf whose validity ended yesterday
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_TYPES = ("rsa2048", "rsa4096", "p256", "p384", "ed25519")

ROOT_CN = "mod_tls Test Root CA"
INTERMEDIATE_CN = "mod_tls Test Intermediate CA"
ORG = "mod_tls integration tests"


def _new_key(kind: str):
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def _sig_hash(issuer_key):
    # Ed25519 issuers sign without a separate digest.
    return None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _ca_cert(subject_key, cn, issuer_key, issuer_name, path_len):
    now = datetime.datetime.now(datetime.timezone.utc)
    pub = subject_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name or _name(cn))
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    )
    if issuer_key is not subject_key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    return builder.sign(issuer_key, _sig_hash(issuer_key))


def _leaf_cert(key, issuer_key, issuer_cert, cn="localhost", *, expired=False,
               dns=("localhost",), ips=("127.0.0.1",), crl_urls=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    if expired:
        not_before = now - datetime.timedelta(days=30)
        not_after = now - datetime.timedelta(days=1)
    else:
        not_before = now - datetime.timedelta(days=1)
        not_after = now + datetime.timedelta(days=365)
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    san = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                       critical=False)
    )
    if crl_urls:
        builder = builder.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(u)],
                                   relative_name=None, reasons=None, crl_issuer=None)
            for u in crl_urls]), critical=False)
    return builder.sign(issuer_key, _sig_hash(issuer_key))


def _pem_cert(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key, fmt=serialization.PrivateFormat.PKCS8, password: bytes | None = None) -> bytes:
    enc = (serialization.BestAvailableEncryption(password) if password
           else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


def valid_from(cert: x509.Certificate) -> datetime.datetime:
    """notBefore as a naive UTC datetime (python3-cryptography 41+ deprecates the naive property
    that Debian 12's 38 alone has)."""
    utc = getattr(cert, "not_valid_before_utc", None)
    return utc.replace(tzinfo=None) if utc is not None else cert.not_valid_before


def valid_until(cert: x509.Certificate) -> datetime.datetime:
    """notAfter as a naive UTC datetime (see valid_from)."""
    utc = getattr(cert, "not_valid_after_utc", None)
    return utc.replace(tzinfo=None) if utc is not None else cert.not_valid_after


@dataclass
class Credential:
    """A certificate file and its key file (key may be None: key inside cert file)."""
    cert: Path
    key: Path | None
    subject_cn: str = "localhost"


@dataclass
class PKI:
    dir: Path
    root_ca: Path
    intermediate_ca: Path
    leaves: dict[str, Credential] = field(default_factory=dict)   # by key type
    chain: Credential | None = None          # intermediate-issued leaf, cert file = leaf+intermediate
    combined: Credential | None = None       # cert and key in one file (key=None)
    mismatch: Credential | None = None       # key belongs to another certificate
    expired: Credential | None = None
    rsa_pkcs1_key: Path | None = None        # same key as leaves["rsa2048"], PKCS#1 PEM
    ec_sec1_key: Path | None = None          # same key as leaves["p256"], SEC1 PEM
    encrypted_key: Path | None = None        # same key as leaves["rsa2048"], encrypted PKCS#8
    garbage_key: Path | None = None          # a file that is no key at all


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.chmod(path, 0o644)
    return path


def make_pki(directory: Path | None = None) -> PKI:
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="modtls-pki-", dir="/tmp"))
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    d = directory

    root_key = ec.generate_private_key(ec.SECP384R1())
    root = _ca_cert(root_key, ROOT_CN, root_key, None, path_len=1)
    int_key = ec.generate_private_key(ec.SECP256R1())
    inter = _ca_cert(int_key, INTERMEDIATE_CN, root_key, root.subject, path_len=0)

    pki = PKI(dir=d,
              root_ca=_write(d / "root.crt", _pem_cert(root)),
              intermediate_ca=_write(d / "intermediate.crt", _pem_cert(inter)))
    _write(d / "root.key", _pem_key(root_key))

    keys = {}
    for kt in KEY_TYPES:
        key = _new_key(kt)
        keys[kt] = key
        cert = _leaf_cert(key, root_key, root)
        pki.leaves[kt] = Credential(
            cert=_write(d / f"localhost-{kt}.crt", _pem_cert(cert)),
            key=_write(d / f"localhost-{kt}.key", _pem_key(key)))

    pki.rsa_pkcs1_key = _write(d / "localhost-rsa2048-pkcs1.key",
                               _pem_key(keys["rsa2048"], serialization.PrivateFormat.TraditionalOpenSSL))
    pki.ec_sec1_key = _write(d / "localhost-p256-sec1.key",
                             _pem_key(keys["p256"], serialization.PrivateFormat.TraditionalOpenSSL))
    pki.encrypted_key = _write(d / "localhost-rsa2048-encrypted.key",
                               _pem_key(keys["rsa2048"], password=b"secret-passphrase"))
    pki.garbage_key = _write(d / "garbage.key", b"this is not a PEM private key\n" * 4)

    # leaf issued by the intermediate; the certificate file carries the chain (without root)
    chain_key = _new_key("p256")
    chain_leaf = _leaf_cert(chain_key, int_key, inter)
    pki.chain = Credential(
        cert=_write(d / "chain-leaf.crt", _pem_cert(chain_leaf) + _pem_cert(inter)),
        key=_write(d / "chain-leaf.key", _pem_key(chain_key)))
    _write(d / "chain-leaf-only.crt", _pem_cert(chain_leaf))

    # certificate and key in one file
    comb_key = _new_key("p256")
    comb_cert = _leaf_cert(comb_key, root_key, root)
    pki.combined = Credential(
        cert=_write(d / "combined-p256.pem", _pem_cert(comb_cert) + _pem_key(comb_key)), key=None)

    # certificate whose key file belongs to a different certificate
    mm_key = _new_key("p256")
    mm_cert = _leaf_cert(mm_key, root_key, root)
    other_key = _new_key("p256")
    pki.mismatch = Credential(
        cert=_write(d / "mismatch.crt", _pem_cert(mm_cert)),
        key=_write(d / "mismatch.key", _pem_key(other_key)))

    exp_key = _new_key("p256")
    exp_cert = _leaf_cert(exp_key, root_key, root, expired=True)
    pki.expired = Credential(
        cert=_write(d / "expired.crt", _pem_cert(exp_cert)),
        key=_write(d / "expired.key", _pem_key(exp_key)))
    return pki


# -- leaves for other names (virtual host / SNI tests) --------------------------------------------

def issue_leaf(p: PKI, stem: str, dns, *, kind: str = "p256", cn: str | None = None,
               ips=(), crl_urls=()) -> Credential:
    """A leaf issued by p's root CA for the DNS names `dns` (SAN; CN = cn or the first name),
    written as <stem>.crt / <stem>.key in p.dir. Made once per stem; later calls return the files
    already written (the names and kind must then be the same).

    crl_urls: URIs for a CRL distribution points extension (as every public CA's leaves carry
    one, or an OCSP URI); none by default, as in the other leaves."""
    dns = tuple(dns)
    cn = cn or dns[0]
    crt, keyf = p.dir / f"{stem}.crt", p.dir / f"{stem}.key"
    if crt.exists() and keyf.exists():
        return Credential(cert=crt, key=keyf, subject_cn=cn)
    root_key = serialization.load_pem_private_key((p.dir / "root.key").read_bytes(), None)
    root = x509.load_pem_x509_certificate(p.root_ca.read_bytes())
    key = _new_key(kind)
    cert = _leaf_cert(key, root_key, root, cn=cn, dns=dns, ips=ips, crl_urls=tuple(crl_urls))
    _write(keyf, _pem_key(key))
    _write(crt, _pem_cert(cert))
    return Credential(cert=crt, key=keyf, subject_cn=cn)


def subject_cn(der: bytes) -> str:
    """The subject CN of a DER certificate (e.g. from SSLSocket.getpeercert(binary_form=True))."""
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def key_kind(der: bytes) -> str:
    """'rsa', 'ecdsa' or 'ed25519': the public key type of a DER certificate."""
    pub = x509.load_der_x509_certificate(der).public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "ecdsa"
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(pub).__name__
