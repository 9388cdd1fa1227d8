"""Lent TLS records below TLS_OUT (issue #23, item 4; docs/performance.md, "Lent records").

TLS_OUT hands rustls's full records down uncopied, as transient buckets that are valid only
during the call. That is safe as long as every filter below it copies what it keeps past the call
(apr_bucket_setaside, the rule for all filters) and the core output filter never reads what it
kept unwritten after a failed write. A test-only module (tests/modules/test_filters.cpp) puts a
filter between TLS_OUT and the core:

- TestFilterSetAside: keeps the output across calls, set aside, and passes it on later. Every
  download must be byte-exact (1 KiB, 100 KiB, 10 MiB; several on one connection; HTTP/1.1 and
  h2).
- TestFilterFailWrite: fails the write that crosses a byte count the way the core filter fails
  one (writes what fits, keeps the rest unread, marks the connection aborted). The client must get
  a byte-exact prefix of the body and then the end of the connection; the server goes on serving.

Run under the sanitizer build too (make asan-test): a bucket read after its record was freed is
a heap-use-after-free report, which fails the test (apache.py).
"""
from __future__ import annotations

import hashlib
import os
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

import apache
import clients

SIZES = {"1k.bin": 1024, "100k.bin": 100 * 1024, "10m.bin": 10 * 1024 * 1024}
H2_MODULE = f"{apache.MODULES_DIR}/mod_http2.so"


def filters_module() -> str:
    so = Path(apache.mod_tls_so()).with_name("mod_tls_test_filters.so")
    if not so.is_file():
        pytest.fail(f"test module not found: {so} (built with the module by `make`)",
                    pytrace=False)
    return str(so)


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {name: os.urandom(size) for name, size in SIZES.items()}


def serve(factory, pki, files, site_extra: dict[int, str]) -> apache.Apache:
    """One server; a TLS port per entry of site_extra, with those directives in its host."""
    body = f"LoadModule tls_test_filters_module {filters_module()}\n"
    if os.path.exists(H2_MODULE):
        body += f"LoadModule http2_module {H2_MODULE}\n"
    for port, extra in site_extra.items():
        body += apache.tls_site(port, pki.leaves["p256"],
                                extra=extra + "\n<IfModule http2_module>\nProtocols h2 http/1.1\n"
                                              "</IfModule>")
    a = factory(body, start=False)
    for name, data in files.items():
        a.add_file(name, data)
    a.start()
    return a


def curl_all(port: int, pki, names, *, h2: bool = False) -> bytes:
    """All names downloaded on one connection (curl reuses it); the bodies, concatenated."""
    args = ["--http2"] if h2 else []
    r = clients.curl(port, [f"/{n}" for n in names], cacert=pki.root_ca, args=args, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.wo("connects").count("1") == 1, r.stderr   # one connection for all of them
    if h2:
        assert set(r.wo("http")) == {"2"}, r.stderr
    return r.body


# ---- buckets set aside below TLS_OUT --------------------------------------------------------

@pytest.mark.parametrize("hold", [1, 100_000, 3_000_000])
def test_set_aside_below_tls_out_is_byte_exact(hold, apache_factory, pki, files):
    port = apache.free_port()
    serve(apache_factory, pki, files, {port: f"TestFilterSetAside {hold}"})
    order = ["1k.bin", "10m.bin", "100k.bin", "1k.bin", "10m.bin"]
    got = curl_all(port, pki, order)
    want = b"".join(files[n] for n in order)
    assert len(got) == len(want) and sha256(got) == sha256(want)


@pytest.mark.skipif(not os.path.exists(H2_MODULE), reason="mod_http2 not installed")
def test_set_aside_below_tls_out_is_byte_exact_h2(apache_factory, pki, files):
    port = apache.free_port()
    serve(apache_factory, pki, files, {port: "TestFilterSetAside 500000"})
    order = ["100k.bin", "10m.bin", "1k.bin"]
    got = curl_all(port, pki, order, h2=True)
    want = b"".join(files[n] for n in order)
    assert len(got) == len(want) and sha256(got) == sha256(want)


# ---- a write that fails below TLS_OUT -------------------------------------------------------

def download_until_it_ends(port: int, pki, name: str) -> tuple[int, bytes, str]:
    """GET /name; read until the connection ends, however it ends. Returns (status, the body
    bytes received, how it ended)."""
    ctx = clients.context(pki.root_ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    data = b""
    ended = "close"
    with ctx.wrap_socket(raw, server_hostname=clients.HOST) as s:
        s.sendall(f"GET /{name} HTTP/1.1\r\nHost: {clients.HOST}\r\nConnection: close\r\n\r\n"
                  .encode())
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (ssl.SSLError, ConnectionResetError, socket.timeout) as e:
            ended = type(e).__name__
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, f"no complete response head ({len(data)} bytes, ended by {ended})"
    status = int(head.split(b" ", 2)[1])
    return status, body, ended


@pytest.mark.parametrize("fail_after", [20_000, 300_000, 4_000_000])
def test_failed_write_below_tls_out(fail_after, apache_factory, pki, files):
    fail_port, ok_port = apache.free_ports(2)
    a = serve(apache_factory, pki, files, {fail_port: f"TestFilterFailWrite {fail_after}",
                                           ok_port: ""})
    for _ in range(2):
        status, body, ended = download_until_it_ends(fail_port, pki, "10m.bin")
        assert status == 200
        assert 0 < len(body) < fail_after < SIZES["10m.bin"], (len(body), ended)
        assert sha256(body) == sha256(files["10m.bin"][:len(body)]), \
            f"the {len(body)} bytes received are not the start of the file"
        # Responses that fit below the limit come whole on that port, and every other port is
        # unaffected.
        small = "1k.bin" if fail_after < 150_000 else "100k.bin"
        assert curl_all(fail_port, pki, [small]) == files[small]
        assert curl_all(ok_port, pki, ["10m.bin", "1k.bin"]) == files["10m.bin"] + files["1k.bin"]
    assert not a.crash_lines(), a.crash_lines()
