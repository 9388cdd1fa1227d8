#!/usr/bin/python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere; deterministic except
for the ClientHellos' random fields). Seeds follow each target's input format (see the targets'
comments and input_reader.h): real ClientHellos captured from Python's ssl module, real
certificates and keys from bridge/tests/data, directive arguments as written in configs."""
import random
import ssl
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "bridge" / "tests" / "data"


def client_hello(min_v=None, max_v=None, sni="localhost", alpn=None) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if min_v:
        ctx.minimum_version = min_v
    if max_v:
        ctx.maximum_version = max_v
    if alpn:
        ctx.set_alpn_protocols(alpn)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def blob(b: bytes) -> bytes:
    return struct.pack(">H", len(b)) + b


def write(target: str, name: str, data: bytes) -> None:
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def directives():
    seeds = {
        "protocol": b"\x00TLSv1.2+\x00default\x00TLSv1.3+\x00v1.2+\x00TLSv0x0304+\x00TLSv1.0+",
        "ciphers": b"\x01ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384\x00"
                   b"TLS13_CHACHA20_POLY1305_SHA256\x00TLS_CIPHER_0x1301\x00"
                   b"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:nonsense",
        "options": b"\x02+StdEnvVars\x00-ExportCertData\x00Defaults\x00StdEnvVars",
        "engine": b"\x03443\x00*:443\x00127.0.0.1:8443\x00[::1]:443\x00[fe80::1%lo]:443\x00x:0",
    }
    for name, data in seeds.items():
        write("fuzz_directives", name, data)


def bridge_api():
    # op codes: 0 new, 2 read_tls(blob), 3 process, 4 hello accessors, 5 select(cfg, alpn, null?),
    # 6 reject(u16), 7 send_tls(u16: v % 8 == 0 accepts all, else the sink refuses batch
    # v % 8 - 1), 11 negotiated, 12 cert_info(blob, u16), 13 certified_key, 14 server_config,
    # 15 names(u16), 16 NULL arguments, 17+ drive
    hellos = {
        "tls13": client_hello(),
        "tls12": client_hello(max_v=ssl.TLSVersion.TLSv1_2),
        "alpn-h2": client_hello(alpn=["h2", "http/1.1"]),
        "no-sni": client_hello(sni=None),
    }
    for i, (name, hello) in enumerate(hellos.items()):
        prog = (b"\x00" + b"\x02" + blob(hello) + b"\x03" + b"\x04"
                + b"\x05" + bytes([i, 1 + (i % 2), 0]) + b"\x11" + b"\x0b" + b"\x07\x40\x00"
                + b"\x02" + blob(b"") + b"\x03" + b"\x08\x40\x00" + b"\x01")
        write("fuzz_bridge_api", f"hello-{name}", prog)
        # the same ClientHello in two feeds, then a reject
        half = len(hello) // 2
        write("fuzz_bridge_api", f"split-{name}",
              b"\x20" + b"\x22" + blob(hello[:half]) + b"\x23" + b"\x22" + blob(hello[half:])
              + b"\x23" + b"\x26\x00\x70" + b"\x27\x40\x00")
    der = ssl.PEM_cert_to_DER_cert((DATA / "dn-rich.crt").read_text())
    write("fuzz_bridge_api", "cert-info", b"\x0c" + blob(der) + b"\x10\x00")
    cert = (DATA / "ecdsa-p256.crt").read_bytes()
    key = (DATA / "ecdsa-p256.key").read_bytes()
    write("fuzz_bridge_api", "certified-key", b"\x0d" + blob(cert) + b"\x00" + blob(key))
    write("fuzz_bridge_api", "server-config",
          b"\x0e\x02\x01\x00\x01\x01\x03\x13\x01\x13\x02\xc0\x2b\x02\x00\x01\x02\x01\x02h2\x00"
          + b"\x0f\x00\x70" + b"\x10")


def tls_stream():
    rnd = random.Random(10)
    # setup byte: bit0 min(1.3), bit1 max(1.3), bit2 SNI, bit3 ALPN, bit4 TLS 1.2 cipher list;
    # then the config choice (0xff: reject); then steps (op % 4: 0 client, 1 server read,
    # 2 server write, 3 handshake)
    for name, setup, cfg in (("tls13", 0x0e, 0x10), ("tls12", 0x14, 0x01), ("mixed", 0x06, 0x22),
                             ("reject", 0x0e, 0xff)):
        steps = bytearray([setup, cfg])
        steps += b"\x03\x00"                       # handshake, blocking
        steps += bytes(rnd.randrange(256) for _ in range(64))
        steps += b"\x00\x00\x01\x00"               # client writes 256 bytes
        steps += b"\x01\x01\x00\x80"               # server GETLINE
        steps += b"\x02\x03\x40\x10\x00\x00\x20\x03"  # server writes
        steps += bytes(rnd.randrange(256) for _ in range(256))
        write("fuzz_tls_stream", name, bytes(steps))


if __name__ == "__main__":
    directives()
    bridge_api()
    tls_stream()
