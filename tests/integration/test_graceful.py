"""Graceful restart under load (issue #10): `apache2 -k graceful` while clients run drops no
request, and a certificate replaced on disk is served after the next graceful restart.

test_graceful_restart_under_load_drops_nothing: h2load with one request per connection
(`Connection: close`): every request needs a new TLS handshake, across the switch from the old to
the new generation of children; h2load must report 0 failed.

h2load cannot judge keep-alive: it counts a request as failed when a graceful restart closes an
idle keep-alive connection (HTTP/1.1) or sends GOAWAY (h2) just as it sent the next request, and
does not retry it. That happens equally with mod_ssl and with plain HTTP (docs/hardening.md):
Apache's graceful behaviour. So the keep-alive tests use their own client (keepalive_load.py):
threads sending many requests per connection while two graceful restarts happen. A request is
sent again only when the server closed the connection cleanly (close_notify) before any byte of
its response (HTTP/1.1, RFC 9112 §9.3.1), or, for h2, when its stream id is above the last-
stream-id of the server's GOAWAY or it was refused (RFC 9113 §6.8, §8.7). Anything else is a
failure: TLS errors, EOF without close_notify, resets, truncated responses, wrong bodies, an h2
stream at or below GOAWAY's last id that does not complete. The tests assert zero failures and
that every request got its exact body; how many were retried depends on timing and is only
printed (run with -s to see it). The h2 client opens a 16 MiB flow-control window as browsers
do: with the default 64 KiB, mod_http2 cuts streams at or below the last id that need a
WINDOW_UPDATE after its GOAWAY, with mod_ssl as with mod_tls (keepalive_load.WINDOW).
"""
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
import keepalive_load as ka
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


@pytest.fixture
def keepalive_server(apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.leaves["p256"], extra="Protocols h2 http/1.1"),
                       start=False, extra_modules=("http2",))
    files = ka.make_files()
    for path, body in files.items():
        a.add_file(path.lstrip("/"), body)
    a.start()
    return a, port, files


def restarts(a, marks: dict):
    """during() for ka.run_load: load alone, two graceful restarts, load alone again."""
    def during(tally):
        time.sleep(1.0)
        marks["first"] = time.monotonic()
        for _ in range(2):
            a.graceful()
            time.sleep(0.5)
        marks["last"] = time.monotonic()
        time.sleep(1.0)
    return during


def check_tally(tally, marks, a, what: str) -> None:
    print(f"\n{what} keep-alive across 2 graceful restarts: {tally.summary()}")
    assert not tally.failures, (f"{len(tally.failures)} failed requests ({tally.summary()}):\n"
                                + "\n".join(tally.failures[:30]))
    before = sum(t < marks["first"] for t in tally.answered_at)
    after = sum(t > marks["last"] for t in tally.answered_at)
    assert before > 100 and after > 100, (before, after, tally.summary())
    assert tally.answered > tally.connections, "no connection carried several requests"
    assert not a.crash_lines()


def test_graceful_restart_keepalive_http1_drops_nothing(keepalive_server, pki):
    a, port, files = keepalive_server
    marks = {}
    tally = ka.run_load(ka.h1_worker, port, pki.root_ca, files, 8, restarts(a, marks))
    check_tally(tally, marks, a, "HTTP/1.1")


def test_graceful_restart_keepalive_h2_drops_nothing(keepalive_server, pki):
    try:
        import h2  # noqa: F401
    except ImportError:
        pytest.fail("python3-h2 missing (Debian package python3-h2; make setup installs it)")
    a, port, files = keepalive_server
    marks = {}
    tally = ka.run_load(ka.h2_worker, port, pki.root_ca, files, 4, restarts(a, marks))
    check_tally(tally, marks, a, "h2")
