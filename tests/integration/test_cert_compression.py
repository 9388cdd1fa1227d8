"""TLS certificate compression (RFC 8879): a client that offers brotli gets its certificate chain
as a CompressedCertificate, smaller than the Certificate every other client gets.

rustls 0.23 compresses for clients that ask, with the algorithms it was built with; Debian's rustls
and our bridge enable brotli only. The tests send hand-built ClientHellos (raw_tls.hello) with one
x25519 share and decrypt the server's first flight with that key (raw_tls.server_handshake_messages),
so they see which message carries the chain and how big it is. Chromium, which offers brotli,
completes its handshakes in test_key_exchange.py and test_browser.py against the same default.
"""
from __future__ import annotations

import re
import ssl
import struct

import brotli
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

import apache
import clients
from raw_tls import exchange_raw, ext, hello, server_handshake_messages, vec8

CERTIFICATE, COMPRESSED_CERTIFICATE = 11, 25
ENCRYPTED_EXTENSIONS, CERTIFICATE_VERIFY, FINISHED = 8, 15, 20
COMPRESS_CERTIFICATE_EXT = 0x001B
ZLIB, BROTLI, ZSTD = 1, 2, 3


def offer(*algorithms: int) -> bytes:
    """The compress_certificate extension listing `algorithms`."""
    return ext(COMPRESS_CERTIFICATE_EXT, vec8(b"".join(struct.pack(">H", a) for a in algorithms)))


def pem_ders(path) -> list[bytes]:
    text = path.read_text()
    return [ssl.PEM_cert_to_DER_cert(m) for m in
            re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)]


def chain_of(certificate_body: bytes) -> list[bytes]:
    """The certificate DERs of a TLS 1.3 Certificate message body."""
    ctx_len = certificate_body[0]
    assert ctx_len == 0, "a server's Certificate has an empty request context"
    i = 1
    end = i + 3 + int.from_bytes(certificate_body[i:i + 3], "big")
    i += 3
    ders = []
    while i < end:
        n = int.from_bytes(certificate_body[i:i + 3], "big")
        ders.append(certificate_body[i + 3:i + 3 + n])
        i += 3 + n
        i += 2 + struct.unpack(">H", certificate_body[i:i + 2])[0]   # per-certificate extensions
    assert i == end == len(certificate_body)
    return ders


def flight(port: int, extensions: bytes = b"") -> tuple[list[tuple[int, bytes]], int]:
    """(decrypted handshake messages, bytes of encrypted records) of the server's first flight
    for a TLS 1.3 ClientHello with one x25519 share and `extensions`."""
    key = x25519.X25519PrivateKey.generate()
    share = key.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)
    ch = hello([(0x001D, share)], extensions=extensions)
    x = exchange_raw(port, ch)
    messages = server_handshake_messages(ch, key, x)
    encrypted = sum(5 + len(p) for t, _, p in x.records if t == 0x17)
    return messages, encrypted


def kinds(messages) -> list[int]:
    return [t for t, _ in messages]


@pytest.fixture(scope="module")
def site(module_apache_factory, pki):
    """ECDSA leaf + intermediate (pki.chain) on one port, RSA-2048 leaf on another."""
    chain_port, rsa_port = apache.free_ports(2)
    a = module_apache_factory(apache.tls_site(chain_port, pki.chain)
                              + apache.tls_site(rsa_port, pki.leaves["rsa2048"]),
                              start=False, name="certcomp")
    a.add_file("index.html", b"compressed\n")
    a.start()
    return a, chain_port, rsa_port


def test_without_the_extension_the_chain_comes_as_certificate(site, pki):
    """Self-check of the decryption: the flight is EncryptedExtensions, Certificate (our chain,
    byte for byte), CertificateVerify, Finished."""
    _, port, _ = site
    messages, _ = flight(port)
    assert kinds(messages) == [ENCRYPTED_EXTENSIONS, CERTIFICATE, CERTIFICATE_VERIFY, FINISHED]
    assert chain_of(messages[1][1]) == pem_ders(pki.chain.cert)


@pytest.mark.parametrize("port_index", [1, 2], ids=["ecdsa-chain", "rsa-leaf"])
def test_brotli_client_gets_compressed_certificate(port_index, site, pki):
    port = site[port_index]
    plain, plain_bytes = flight(port)
    messages, compressed_bytes = flight(port, offer(BROTLI))
    assert kinds(messages) == [ENCRYPTED_EXTENSIONS, COMPRESSED_CERTIFICATE, CERTIFICATE_VERIFY,
                               FINISHED]
    body = messages[1][1]
    algorithm = struct.unpack(">H", body[:2])[0]
    uncompressed_length = int.from_bytes(body[2:5], "big")
    data_len = int.from_bytes(body[5:8], "big")
    data = body[8:]
    assert algorithm == BROTLI
    assert data_len == len(data)
    certificate = plain[1][1]
    # the compressed message decompresses to the very Certificate a client without it gets
    assert uncompressed_length == len(certificate)
    assert brotli.decompress(data) == certificate
    assert len(data) < len(certificate), (len(data), len(certificate))
    # and the whole flight shrinks by what compression saved (CertificateVerify's ECDSA
    # signature varies by a few bytes between handshakes)
    saved = len(certificate) - len(body)
    assert abs((plain_bytes - compressed_bytes) - saved) <= 4, (plain_bytes, compressed_bytes, saved)
    print(f"certificate {len(certificate)} B, compressed message {len(body)} B; "
          f"encrypted flight {plain_bytes} -> {compressed_bytes} B")


@pytest.mark.parametrize("algorithms", [(ZLIB,), (ZSTD,), (ZLIB, ZSTD)],
                         ids=["zlib", "zstd", "zlib-zstd"])
def test_algorithms_we_lack_get_the_plain_certificate(algorithms, site, pki):
    _, port, _ = site
    messages, _ = flight(port, offer(*algorithms))
    assert kinds(messages) == [ENCRYPTED_EXTENSIONS, CERTIFICATE, CERTIFICATE_VERIFY, FINISHED]
    assert chain_of(messages[1][1]) == pem_ders(pki.chain.cert)


def test_brotli_among_others_is_chosen(site):
    _, port, _ = site
    messages, _ = flight(port, offer(ZSTD, ZLIB, BROTLI))
    assert kinds(messages)[1] == COMPRESSED_CERTIFICATE
    assert struct.unpack(">H", messages[1][1][:2])[0] == BROTLI


def test_clients_without_compression_are_served(site, pki):
    """curl and Python on OpenSSL 3.0 offer no certificate compression: served as before."""
    _, port, _ = site
    r = clients.curl(port, "/index.html", cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == b"compressed\n", r.stderr
