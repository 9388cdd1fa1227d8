"""Hostile or broken clients: the connection is closed, one info line names the client, the
server keeps serving."""
from __future__ import annotations

import os
import random
import re
import socket
import ssl
import time

import pytest

import apache
import clients

# what the module's log line looks like (contract: "[tls:info] ... [client IP:PORT] ... TLS
# handshake failed: <reason>")
MODULE_TAG = "[tls:"
INFO_TAG = "[tls:info]"
FAILED_RE = r"handshake failed"
PLAIN_HTTP_REASON = "plain HTTP"

CASES = ["plain-http", "random-bytes", "truncated-client-hello", "close-mid-handshake-tls13",
         "close-mid-handshake-tls12"]


@pytest.fixture(scope="module")
def server(module_apache_factory, pki):
    port = apache.free_port()
    a = module_apache_factory(apache.tls_site(port, pki.leaves["p256"]), log_level="info")
    a.add_file("index.html", b"good client\n")
    return a, port


def _read_until_closed(s: socket.socket, timeout: float = 10.0) -> bytes:
    """Read until the peer closes (EOF or reset); fail if it is still open after `timeout`."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data
        except socket.timeout:
            pytest.fail(f"server did not close the connection within {timeout}s "
                        f"(got {len(data)} bytes)")
        if not chunk:
            return data
        data += chunk
        if time.monotonic() > deadline:
            pytest.fail("server kept the connection open")


def _random_garbage() -> bytes:
    data = bytearray(random.Random(99).randbytes(2048))
    data[0] = 0x00          # not a TLS content type and not an HTTP method letter
    return bytes(data)


def _bad_client(case: str, port: int) -> int:
    """Run one bad client; return its source port."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    client_port = s.getsockname()[1]
    try:
        if case == "plain-http":
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: plain\r\n\r\n")
            _read_until_closed(s)      # the client waits; the server must close
        elif case == "random-bytes":
            s.sendall(_random_garbage())
            _read_until_closed(s)
        elif case == "truncated-client-hello":
            hello = clients.client_hello()
            assert len(hello) > 100
            s.sendall(hello[:50])
            s.shutdown(socket.SHUT_WR)  # then close
            _read_until_closed(s)
        elif case.startswith("close-mid-handshake"):
            kw = ({"max_version": ssl.TLSVersion.TLSv1_2} if case.endswith("tls12")
                  else {"min_version": ssl.TLSVersion.TLSv1_3})
            s.sendall(clients.client_hello(**kw))
            first = s.recv(5)          # the server answered (ServerHello ...)
            assert first[:1] == b"\x16", first
            s.shutdown(socket.SHUT_WR)  # and the client goes away mid-handshake
            _read_until_closed(s)
        else:
            raise ValueError(case)
    finally:
        s.close()
    return client_port


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case, server, pki):
    a, port = server
    mark = a.log_mark()
    crashes_before = len(a.crash_lines())
    client_port = _bad_client(case, port)

    tag = f"[client 127.0.0.1:{client_port}]"
    line = a.wait_for_log(re.escape(tag) + ".*(?:" + FAILED_RE + ")", timeout=10, since=mark)
    assert INFO_TAG in line, line
    if case == "plain-http":
        assert PLAIN_HTTP_REASON in line, line

    # a good client is served right after
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == b"good client\n", r.stderr
    status, _, body, _, _ = clients.https_get(port, "/", clients.context(pki.root_ca))
    assert (status, body) == (200, b"good client\n")

    # exactly one line from the TLS module about that client
    time.sleep(0.3)
    about = [l for l in a.error_log(since=mark).splitlines() if tag in l and MODULE_TAG in l]
    assert len(about) == 1, "\n".join(about)
    # the server is still up and no child crashed
    assert apache.Apache._alive(a._read_pid())
    assert len(a.crash_lines()) == crashes_before, a.crash_lines()


def test_many_bad_clients_then_good(server, pki):
    """A burst of every kind of bad client, then the server still serves."""
    a, port = server
    for _ in range(3):
        for case in CASES:
            _bad_client(case, port)
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == b"good client\n", r.stderr
    assert a.crash_lines() == []
