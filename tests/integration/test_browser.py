"""A real browser: Debian's headless Chromium loads a page with several sub-resources (CSS, JS,
images) from the module over HTTP/2 and TLS 1.3.

Evidence: the access log (LogFormat with %H: "HTTP/2.0" for every resource), and the page itself,
whose script writes the Navigation/Resource Timing `nextHopProtocol` ("h2") into the DOM that
--dump-dom prints. The host allows TLS 1.3 only, so a successful load is a TLS 1.3 load.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib

import pytest

import apache
import clients

CHROMIUM = "/usr/bin/chromium"
RESOURCES = ["/style.css", "/app.js", "/img1.png", "/img2.png", "/img3.png"]

PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mod_tls browser test</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js"></script>
</head><body>
<h1 id="title">mod_tls</h1>
<img src="/img1.png" alt="1"><img src="/img2.png" alt="2"><img src="/img3.png" alt="3">
<p id="nav"></p><p id="res"></p><p id="js"></p>
<script>
  function report() {
    var nav = performance.getEntriesByType('navigation')[0];
    document.getElementById('nav').textContent = 'nav=' + (nav ? nav.nextHopProtocol : '?');
    var res = performance.getEntriesByType('resource').map(function (e) {
      return new URL(e.name).pathname + ':' + e.nextHopProtocol; }).sort();
    document.getElementById('res').textContent = 'res=' + res.join(',');
  }
  window.addEventListener('load', report);
</script>
</body></html>
"""
CSS = b"body { font-family: sans-serif; } h1 { color: #036; }\n"
JS = b"document.addEventListener('DOMContentLoaded', function () {\n" \
     b"  document.getElementById('js').textContent = 'js=ran';\n});\n"


def png(r: int, g: int, b: int) -> bytes:
    """A 1x1 RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes([0, r, g, b]))) + chunk(b"IEND", b""))


@pytest.fixture
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium; scripts/setup.sh "
                    f"installs it)")
    return CHROMIUM


def test_chromium_loads_page_over_h2_tls13(chromium, apache_factory, pki):
    port = apache.free_port()
    body = (apache.tls_site(port, pki.leaves["p256"], protocol="TLSv1.3+",
                            extra="Protocols h2 http/1.1")
            + 'LogFormat "%H %m %U %>s" proto\n'
            + 'CustomLog "logs/proto.log" proto\n')
    a = apache_factory(body, start=False, extra_modules=("http2",))
    a.add_file("page.html", PAGE)
    a.add_file("style.css", CSS)
    a.add_file("app.js", JS)
    for i, rgb in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)], start=1):
        a.add_file(f"img{i}.png", png(*rgb))
    a.start()

    profile = tempfile.mkdtemp(prefix="modtls-chromium-")
    try:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               "--ignore-certificate-errors", f"--user-data-dir={profile}",
               "--host-resolver-rules=MAP localhost 127.0.0.1",
               "--dump-dom", f"https://localhost:{port}/page.html"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    dom = p.stdout
    assert p.returncode == 0, f"chromium rc={p.returncode}\n{p.stderr[-3000:]}"
    assert 'id="title">mod_tls</h1>' in dom, f"page not loaded:\n{dom}\n{p.stderr[-3000:]}"
    assert "js=ran" in dom, dom                       # app.js fetched and executed
    assert "nav=h2" in dom, dom                       # the page came over HTTP/2
    m = re.search(r"res=([^<]*)<", dom)
    assert m, dom
    got = dict(x.split(":", 1) for x in m.group(1).split(",") if ":" in x)
    for path in RESOURCES:
        assert got.get(path) == "h2", f"{path}: {got}"

    log = (a.root / "logs" / "proto.log").read_text()
    lines = log.splitlines()
    for path in ["/page.html"] + RESOURCES:
        assert any(re.fullmatch(rf"HTTP/2\.0 GET {re.escape(path)} 200", l) for l in lines), (
            f"{path} not served over HTTP/2.0:\n{log}")
    assert not [l for l in lines if l.startswith("HTTP/1")], log

    # and the host really allows TLS 1.3 only
    r = clients.curl(port, "/page.html", cacert=pki.root_ca, args=["--tls-max", "1.2"])
    assert r.returncode == 35, r.stderr
