"""Response bodies arrive byte-exact; keep-alive and pipelining; plain HTTP on another port."""
from __future__ import annotations

import hashlib
import os
import random
import re
import ssl
import subprocess
import time

import pytest

import apache
import clients

SIZES = [0, 1, 16383, 16384, 16385, 1024 * 1024]
BIG = 100 * 1024 * 1024
CGI_TOTAL = 10 * 1024 * 1024

# A CGI script that streams CGI_TOTAL deterministic bytes in chunks of varying sizes (no
# Content-Length, so HTTP/1.1 responses are chunked).
CGI_SCRIPT = """#!/usr/bin/python3
import random, sys
out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\\r\\n\\r\\n")
out.flush()
rng = random.Random(4242)
sizes = [1, 100, 16383, 16384, 16385, 65536, 7, 100000]
left, i = %d, 0
while left:
    n = min(sizes[i %% len(sizes)], left)
    out.write(rng.randbytes(n))
    out.flush()
    left -= n
    i += 1
""" % CGI_TOTAL


def cgi_expected() -> bytes:
    rng = random.Random(4242)
    sizes = [1, 100, 16383, 16384, 16385, 65536, 7, 100000]
    parts, left, i = [], CGI_TOTAL, 0
    while left:
        n = min(sizes[i % len(sizes)], left)
        parts.append(rng.randbytes(n))
        left -= n
        i += 1
    return b"".join(parts)


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def server(module_apache_factory, pki):
    """One server with a TLS port and a plain HTTP port, static files and a CGI."""
    tls_port, plain_port = apache.free_ports(2)
    a = module_apache_factory(apache.tls_site(tls_port, pki.leaves["p256"])
                              + apache.plain_site(plain_port))
    rng = random.Random(1234)
    files = {}
    for n in SIZES:
        data = rng.randbytes(n)
        a.add_file(f"f{n}.bin", data)
        files[n] = data
    a.add_file("index.html", b"<html>index</html>\n")
    a.add_cgi("stream.py", CGI_SCRIPT)
    # the 100 MiB file: streamed to disk, hashed on the way
    h = hashlib.sha256()
    path = a.docroot / "big.bin"
    with open(path, "wb") as f:
        for _ in range(BIG // (1 << 20)):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    os.chmod(path, 0o644)
    return dict(apache=a, tls=tls_port, plain=plain_port, files=files, big_sha=h.hexdigest())


def _ctx(pki, **kw):
    return clients.context(pki.root_ca, **kw)


# -- static files ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("ver", ["1.2", "1.3"])
def test_static_file_python(server, pki, size, ver):
    kw = (dict(max_version=ssl.TLSVersion.TLSv1_2) if ver == "1.2"
          else dict(min_version=ssl.TLSVersion.TLSv1_3))
    status, headers, body, version, _ = clients.https_get(server["tls"], f"/f{size}.bin",
                                                          _ctx(pki, **kw))
    assert status == 200
    assert version == f"TLSv{ver}"
    assert int(headers["Content-Length"]) == size
    assert len(body) == size and sha256(body) == sha256(server["files"][size])


@pytest.mark.parametrize("size", SIZES)
def test_static_file_curl(server, pki, size):
    r = clients.curl(server["tls"], f"/f{size}.bin", cacert=pki.root_ca)
    assert r.returncode == 0, r.stderr
    assert r.wo("size") == [str(size)]
    assert sha256(r.body) == sha256(server["files"][size])


@pytest.mark.slow
def test_static_100mib(server, pki):
    """100 MiB through curl, hashed while it streams."""
    cmd = ["curl", "-sS", "--http1.1", "--max-time", "120", "--cacert", str(pki.root_ca),
           "--resolve", f"localhost:{server['tls']}:127.0.0.1",
           clients.url(server["tls"], "/big.bin")]
    h = hashlib.sha256()
    n = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
        while True:
            chunk = p.stdout.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        err = p.stderr.read().decode()
        rc = p.wait(timeout=130)
    assert rc == 0, err
    assert n == BIG
    assert h.hexdigest() == server["big_sha"]


@pytest.mark.slow
def test_static_100mib_python_tls12(server, pki):
    """The same over TLS 1.2 with Python's ssl, read in odd-sized pieces."""
    conn = clients.HTTPSConnection(server["tls"], _ctx(pki, max_version=ssl.TLSVersion.TLSv1_2),
                                   timeout=120)
    try:
        conn.request("GET", "/big.bin")
        r = conn.getresponse()
        assert r.status == 200 and conn.tls_version == "TLSv1.2"
        h, n = hashlib.sha256(), 0
        while True:
            chunk = r.read(77777)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
    finally:
        conn.close()
    assert n == BIG and h.hexdigest() == server["big_sha"]


# -- CGI: streamed, chunked --------------------------------------------------------------------

@pytest.mark.parametrize("ver", ["1.2", "1.3"])
def test_cgi_streamed_chunked(server, pki, ver):
    kw = (dict(max_version=ssl.TLSVersion.TLSv1_2) if ver == "1.2"
          else dict(min_version=ssl.TLSVersion.TLSv1_3))
    with clients.tls_connect(server["tls"], _ctx(pki, **kw)) as s:
        assert s.version() == f"TLSv{ver}"
        s.sendall(b"GET /cgi-bin/stream.py HTTP/1.1\r\nHost: localhost\r\n\r\n")
        f = s.makefile("rb")
        resp = clients.read_response(f)
        assert resp.status == 200, resp
        assert resp.headers.get("transfer-encoding") == "chunked", resp.headers
        assert "content-length" not in resp.headers
        assert len(resp.body) == CGI_TOTAL
        assert sha256(resp.body) == sha256(cgi_expected())
        # the connection is still usable after the chunked body
        s.sendall(b"GET /f1.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        resp2 = clients.read_response(f)
        assert resp2.body == server["files"][1]


def test_cgi_curl(server, pki):
    r = clients.curl(server["tls"], "/cgi-bin/stream.py", cacert=pki.root_ca)
    assert r.returncode == 0, r.stderr
    assert sha256(r.body) == sha256(cgi_expected())


# -- HEAD --------------------------------------------------------------------------------------

def test_head(server, pki):
    size = 1024 * 1024
    with clients.tls_connect(server["tls"], _ctx(pki)) as s:
        s.sendall(b"HEAD /f1048576.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        f = s.makefile("rb")
        resp = clients.read_response(f, head=True)
        assert resp.status == 200
        assert int(resp.headers["content-length"]) == size
        # no body was sent: the next response on the connection starts right away
        s.sendall(b"GET /f1.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        resp2 = clients.read_response(f)
        assert resp2.status == 200 and resp2.body == server["files"][1]
        assert f.read() == b""
    r = clients.curl(server["tls"], "/f16384.bin", cacert=pki.root_ca, args=["--head"])
    assert r.returncode == 0
    assert re.search(rb"(?i)^content-length: 16384\r$", r.body, re.M), r.body
    assert r.wo("code") == ["200"]


# -- keep-alive and pipelining -----------------------------------------------------------------

def _access_lines(a, marker: str) -> list[list[str]]:
    return [l.split() for l in a.access_log().splitlines() if marker in l]


def test_keepalive_python(server, pki):
    a = server["apache"]
    conn = clients.HTTPSConnection(server["tls"], _ctx(pki))
    try:
        for i in range(5):
            conn.request("GET", f"/f16385.bin?ka-py={i}")
            r = conn.getresponse()
            assert r.status == 200 and r.read() == server["files"][16385]
        assert conn.connects == 1
        client_port = conn.sock.getsockname()[1]
    finally:
        conn.close()
    # the server saw the 5 requests on one connection (same client port, %k = 0..4)
    deadline = time.monotonic() + 5
    while len(_access_lines(a, "ka-py=")) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = _access_lines(a, "ka-py=")
    assert len(lines) == 5, a.access_log()
    assert {l[1] for l in lines} == {str(client_port)}, lines
    assert [l[2] for l in lines] == ["0", "1", "2", "3", "4"], lines


def test_keepalive_curl(server, pki):
    paths = [f"/f1.bin?ka-curl={i}" for i in range(4)]
    r = clients.curl(server["tls"], paths, cacert=pki.root_ca)
    assert r.returncode == 0, r.stderr
    assert r.wo("connects") == ["1", "0", "0", "0"], r.stderr
    assert r.body == server["files"][1] * 4


@pytest.mark.parametrize("ver", ["1.2", "1.3"])
def test_pipelined(server, pki, ver):
    kw = (dict(max_version=ssl.TLSVersion.TLSv1_2) if ver == "1.2"
          else dict(min_version=ssl.TLSVersion.TLSv1_3))
    reqs = (b"GET /f16383.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
            b"GET /f1.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
            b"GET /f16385.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    with clients.tls_connect(server["tls"], _ctx(pki, **kw)) as s:
        s.sendall(reqs)   # one write, three requests
        f = s.makefile("rb")
        bodies = [clients.read_response(f) for _ in range(3)]
        assert f.read() == b""   # closed after the third
    assert [b.status for b in bodies] == [200, 200, 200]
    assert [b.body for b in bodies] == [server["files"][16383], server["files"][1],
                                        server["files"][16385]]


# -- plain HTTP on another port of the same server ---------------------------------------------

def test_plain_port_still_plain(server, pki):
    r = clients.curl_plain(server["plain"], "/f16384.bin")
    assert r.returncode == 0, r.stderr
    assert r.body == server["files"][16384]
    assert r.wo("code") == ["200"]
    # and TLS at the same time on the TLS port
    r = clients.curl(server["tls"], "/f16384.bin", cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == server["files"][16384]
    # the plain port does not speak TLS
    r = clients.curl(server["plain"], "/", cacert=pki.root_ca)
    assert r.returncode != 0
    # the TLS port does not answer plain HTTP with a page
    r = clients.curl_plain(server["tls"], "/f16384.bin")
    assert r.body != server["files"][16384]
