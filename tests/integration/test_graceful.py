"""Graceful restart under load (issue #10): `apache2 -k graceful` while h2load runs drops no
request, and a certificate replaced on disk is served after the next graceful restart.

h2load runs one request per connection (`Connection: close`): every request then needs a new TLS
handshake, across the switch from the old to the new generation of children. With keep-alive
connections h2load counts requests as failed when a graceful restart closes an idle keep-alive
connection (HTTP/1.1) or sends GOAWAY (h2): it does not retry them as browsers do. That happens
equally with mod_ssl and with plain HTTP (measured with this same load; docs/hardening.md), so it
is Apache's documented graceful behaviour, not something the TLS module can change."""
from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import threading
import time

import pytest

import apache
import clients
import pki as pki_mod

REQUESTS = 8000


def served_cert(port: int, pki) -> bytes:
    s = clients.tls_connect(port, clients.context(pki.root_ca))
    try:
        return s.getpeercert(binary_form=True)
    finally:
        s.close()


def h2load(port: int, args, n: int) -> subprocess.Popen:
    return subprocess.Popen(["h2load", "-n", str(n), *args, f"https://127.0.0.1:{port}/small.html"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_graceful_restart_under_load_drops_nothing(apache_factory, pki):
    if not shutil.which("h2load"):
        pytest.fail("h2load missing (Debian package nghttp2-client)")
    port = apache.free_port()
    # the served files live in the ServerRoot: copy the certificate there so the test can
    # replace it later without touching the shared PKI
    a = apache_factory("", start=False, extra_modules=("http2",))
    cert = a.root / "conf" / "site.crt"
    key = a.root / "conf" / "site.key"
    shutil.copy(pki.leaves["p256"].cert, cert)
    shutil.copy(pki.leaves["p256"].key, key)
    a.write_config(apache.tls_site(port, (cert, key), extra="Protocols h2 http/1.1"))
    a.add_file("small.html", b"x" * 512)
    a.start()

    load = h2load(port, ["-c", "8", "--h1", "-H", "Connection: close"], REQUESTS)
    try:
        time.sleep(1.0)
        for _ in range(2):
            assert load.poll() is None, "h2load ended before the graceful restarts (too fast)"
            a.graceful()
            time.sleep(0.5)
        out, _ = load.communicate(timeout=180)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    assert re.search(rf"requests: {REQUESTS} total, {REQUESTS} started, {REQUESTS} done, "
                     rf"{REQUESTS} succeeded, 0 failed, 0 errored, 0 timeout", out), out
    assert f"status codes: {REQUESTS} 2xx" in out, out
    assert a.error_log().count("resuming normal operations") >= 2, "no graceful restart happened"

    # a new certificate in the same files is served after the next graceful restart
    old_der = served_cert(port, pki)
    new = pki_mod.issue_leaf(pki, "graceful-new", ["localhost"])
    shutil.copy(new.cert, cert)
    shutil.copy(new.key, key)
    assert served_cert(port, pki) == old_der, "the certificate changed before the restart"
    a.graceful()
    deadline = time.monotonic() + 30
    new_der = ssl.PEM_cert_to_DER_cert(new.cert.read_text())
    while served_cert(port, pki) != new_der and time.monotonic() < deadline:
        time.sleep(0.2)
    assert served_cert(port, pki) == new_der
    assert not a.crash_lines()
