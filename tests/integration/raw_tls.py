"""Hand-built TLS 1.3 ClientHellos and a raw reader of what the server sends back.

For tests that need a ClientHello no real client sends (malformed key shares, a chosen list of
groups, a chosen extension), a raw look at the server's records, and the decrypted
handshake messages of the server's first flight (what a client that offered one x25519 share sees).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand


def vec8(b: bytes) -> bytes:
    return bytes([len(b)]) + b


def vec16(b: bytes) -> bytes:
    return struct.pack(">H", len(b)) + b


def ext(kind: int, body: bytes) -> bytes:
    return struct.pack(">HH", kind, len(body)) + body


def hello(shares, *, groups=None, sni: str = "localhost", extensions: bytes = b"") -> bytes:
    """A TLS 1.3 ClientHello record: cipher suite TLS_AES_128_GCM_SHA256, SNI, supported_versions
    [TLS 1.3], supported_groups (default: the groups of the shares), signature_algorithms
    [ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256], key_share with `shares` [(group, bytes)],
    then `extensions` (encoded, e.g. by ext())."""
    groups = groups or [g for g, _ in shares]
    exts = b"".join([
        ext(0x0000, vec16(b"\x00" + vec16(sni.encode()))),
        ext(0x002B, vec8(b"\x03\x04")),
        ext(0x000A, vec16(b"".join(struct.pack(">H", g) for g in groups))),
        ext(0x000D, vec16(struct.pack(">HH", 0x0403, 0x0804))),
        ext(0x0033, vec16(b"".join(struct.pack(">H", g) + vec16(k) for g, k in shares))),
    ]) + extensions
    body = (b"\x03\x03" + os.urandom(32) + vec8(os.urandom(32)) + vec16(b"\x13\x01")
            + vec8(b"\x00") + vec16(exts))
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + vec16(hs)


def x25519_public() -> bytes:
    return x25519.X25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def p256_public() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@dataclass
class RawExchange:
    records: list      # [(content type, record version, payload)]
    raw: bytes         # everything the server sent
    client_port: int


def exchange_raw(port: int, data: bytes, timeout: float = 10.0) -> RawExchange:
    """Send `data` and read what the server sends until it closes the connection, or until it
    has sent something and then nothing for a second (a ServerHello flight waits for us)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        cport = s.getsockname()[1]
        s.sendall(data)
        buf = b""
        deadline = time.monotonic() + timeout
        s.settimeout(1.0)
        while time.monotonic() < deadline and len(buf) < 65536:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                if buf:
                    break
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
    recs, i = [], 0
    while i + 5 <= len(buf):
        typ = buf[i]
        ver, n = struct.unpack(">HH", buf[i + 1:i + 5])
        recs.append((typ, ver, buf[i + 5:i + 5 + n]))
        i += 5 + n
    return RawExchange(recs, buf, cport)


# ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3)
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def _server_key_share(x: RawExchange):
    """(group, share bytes; None for a HelloRetryRequest) of the ServerHello the server sent
    first; None if it sent no ServerHello."""
    recs = x.records
    if not recs or recs[0][0] != 0x16 or recs[0][2][:1] != b"\x02":
        return None
    m = recs[0][2][4:]
    hrr = m[2:34] == HRR_RANDOM
    i = 2 + 32
    i += 1 + m[i]          # session id
    i += 2 + 1             # cipher suite, compression
    end = i + 2 + struct.unpack(">H", m[i:i + 2])[0]
    i += 2
    while i < end:
        kind, n = struct.unpack(">HH", m[i:i + 4])
        if kind == 0x0033:
            if hrr:
                return struct.unpack(">H", m[i + 4:i + 6])[0], None
            g, klen = struct.unpack(">HH", m[i + 4:i + 8])
            return g, m[i + 8:i + 8 + klen]
        i += 4 + n
    raise AssertionError(f"ServerHello without key_share: {m.hex()}")


def server_hello(x: RawExchange):
    """(key_share group, key_share length) of the ServerHello the server sent; length None for
    a HelloRetryRequest; None if the server sent no ServerHello."""
    ks = _server_key_share(x)
    if ks is None:
        return None
    group, share = ks
    return group, None if share is None else len(share)


# ---- reading the server's encrypted flight (RFC 8446 section 7, TLS_AES_128_GCM_SHA256) -----------

def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _expand_label(secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    info = struct.pack(">H", length) + vec8(b"tls13 " + label) + vec8(context)
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def server_handshake_messages(client_hello: bytes, key: x25519.X25519PrivateKey,
                              x: RawExchange) -> list[tuple[int, bytes]]:
    """The server's handshake messages after its ServerHello (EncryptedExtensions, Certificate
    or CompressedCertificate, CertificateVerify, Finished) as [(type, body)], decrypted with the
    server handshake traffic key. `client_hello` is the one-record ClientHello that hello() built
    with a single x25519 share of `key`; the server must have answered with x25519."""
    group, share = _server_key_share(x)
    assert group == 0x001D and share is not None, (group, share)
    shared = key.exchange(x25519.X25519PublicKey.from_public_bytes(share))
    early = _extract(bytes(32), bytes(32))
    derived = _expand_label(early, b"derived", hashlib.sha256(b"").digest(), 32)
    transcript = hashlib.sha256(client_hello[5:] + x.records[0][2]).digest()
    traffic = _expand_label(_extract(derived, shared), b"s hs traffic", transcript, 32)
    aead = AESGCM(_expand_label(traffic, b"key", b"", 16))
    iv = _expand_label(traffic, b"iv", b"", 12)
    plain = b""
    for seq, (typ, ver, payload) in enumerate(r for r in x.records if r[0] == 0x17):
        nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big")))
        inner = aead.decrypt(nonce, payload, bytes([typ]) + struct.pack(">HH", ver, len(payload)))
        inner = inner.rstrip(b"\x00")
        assert inner[-1:] == b"\x16", f"record {seq} holds content type {inner[-1:].hex()}"
        plain += inner[:-1]
    messages, i = [], 0
    while i + 4 <= len(plain):
        n = int.from_bytes(plain[i + 1:i + 4], "big")
        messages.append((plain[i], plain[i + 4:i + 4 + n]))
        i += 4 + n
    return messages
