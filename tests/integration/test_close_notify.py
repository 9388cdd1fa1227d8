"""Graceful close: the server ends a TLS connection with close_notify."""
from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

import apache
import clients

REQ_CLOSE = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
REQ_KEEP = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
VERS = {"1.2": dict(max_version=ssl.TLSVersion.TLSv1_2),
        "1.3": dict(min_version=ssl.TLSVersion.TLSv1_3)}


def read_to_clean_eof(s: ssl.SSLSocket, timeout: float = 10) -> bytes:
    """Read until the TLS connection ends. Returns the data if it ended with close_notify;
    with OP_IGNORE_UNEXPECTED_EOF cleared (clients.context), Python raises
    SSLError(UNEXPECTED_EOF_WHILE_READING) on a TCP close without it."""
    s.settimeout(timeout)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.fixture(scope="module")
def server(module_apache_factory, pki):
    port = apache.free_port()
    a = module_apache_factory(apache.tls_site(port, pki.leaves["p256"]), keepalive_timeout=1)
    a.add_file("index.html", b"bye\n")
    return a, port


@pytest.mark.parametrize("ver", VERS)
def test_close_notify_after_connection_close(server, pki, ver):
    a, port = server
    with clients.tls_connect(port, clients.context(pki.root_ca, **VERS[ver])) as s:
        assert s.version() == f"TLSv{ver}"
        s.sendall(REQ_CLOSE)
        data = read_to_clean_eof(s)      # SSLEOFError here = no close_notify
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\nbye\n"), data


@pytest.mark.parametrize("ver", VERS)
def test_unwrap_after_connection_close(server, pki, ver):
    a, port = server
    s = clients.tls_connect(port, clients.context(pki.root_ca, **VERS[ver]))
    try:
        s.sendall(REQ_CLOSE)
        f = s.makefile("rb")
        resp = clients.read_response(f)
        assert resp.body == b"bye\n"
        f.close()
        raw = s.unwrap()                 # bidirectional shutdown: needs the server's close_notify
        assert raw.recv(1) == b""
        raw.close()
    finally:
        s.close()


@pytest.mark.parametrize("ver", VERS)
def test_close_notify_on_keepalive_timeout(server, pki, ver):
    """The server closes an idle keep-alive connection (KeepAliveTimeout 1) with close_notify."""
    a, port = server
    with clients.tls_connect(port, clients.context(pki.root_ca, **VERS[ver])) as s:
        s.sendall(REQ_KEEP)
        f = s.makefile("rb")
        resp = clients.read_response(f)
        assert resp.status == 200 and resp.body == b"bye\n"
        assert resp.headers.get("connection", "").lower() != "close"
        f.close()
        t0 = time.monotonic()
        rest = read_to_clean_eof(s, timeout=15)
        assert rest == b""
        assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("ver", ["-tls1_2", "-tls1_3"])
def test_s_client_sees_no_unexpected_eof(server, pki, ver):
    a, port = server
    p = clients.s_client(port, [ver, "-ign_eof"], input=REQ_CLOSE, cafile=pki.root_ca)
    assert "bye\n" in p.stdout, p.stdout
    assert "unexpected eof" not in p.stdout.lower(), p.stdout
    assert p.returncode == 0, p.stdout


# -- self-check of the detection: a server that just drops TCP is caught ------------------------

def _rude_server(pki):
    """A one-connection TLS server that answers and then closes TCP without close_notify."""
    cred = pki.leaves["p256"]
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(cred.cert), str(cred.key))
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def serve():
        try:
            conn, _ = lsock.accept()
            t = sctx.wrap_socket(conn, server_side=True)
            t.recv(4096)
            t.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye\n")
            socket.socket(fileno=t.detach()).close()
        finally:
            lsock.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    return lsock.getsockname()[1], th


def test_detection_catches_missing_close_notify(pki):
    port, th = _rude_server(pki)
    with clients.tls_connect(port, clients.context(pki.root_ca)) as s:
        s.sendall(REQ_CLOSE)
        with pytest.raises(ssl.SSLError, match="(?i)eof"):
            read_to_clean_eof(s)
    th.join(5)
    port, th = _rude_server(pki)
    p = clients.s_client(port, ["-ign_eof"], input=REQ_CLOSE, cafile=pki.root_ca)
    th.join(5)
    assert "bye" in p.stdout, p.stdout
    assert "unexpected eof" in p.stdout.lower(), p.stdout
