"""TLS to mod_proxy backends (issue #8): TLSProxy* directives, backend verification by CA and host
name, SNI/ALPN, connection reuse, HTTP/2 and WebSocket backends, client certificates, and
mod_tls next to mod_ssl (each doing only its own proxy connections).

Real servers only: backend apache2 instances (with mod_tls or Debian's mod_ssl), a Python
`websockets` server over TLS, and a frontend apache2 with mod_proxy, all on loopback ports chosen
at run time.
"""
from __future__ import annotations

import asyncio
import datetime
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import apache as ap
import clients
import pki as pkimod

PROXY_MODULES = ("proxy", "proxy_http")
MOD_SSL = ap.MOD_SSL_MODULES
# The backends' access log: the TLS protocol and client certificate CN the backend saw.
BACKEND_LOG = ('LogFormat "%{remote}p %{SSL_PROTOCOL}x sni=%{SSL_TLS_SNI}x '
               '%{SSL_CLIENT_S_DN_CN}x \\"%r\\" %>s %{SSL_CIPHER}x" backendtls\n')
MACHINE_CN = "proxy-machine.test"


# ---- helpers -----------------------------------------------------------------------------------

def machine_credential(p: pkimod.PKI) -> pkimod.Credential:
    """A client certificate (EKU clientAuth) issued by the test root, for TLSProxyMachineCertificate."""
    crt, keyf = p.dir / "proxy-machine.crt", p.dir / "proxy-machine.key"
    if not crt.exists():
        root_key = serialization.load_pem_private_key((p.dir / "root.key").read_bytes(), None)
        root = x509.load_pem_x509_certificate(p.root_ca.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, MACHINE_CN)]))
                .issuer_name(root.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .sign(root_key, hashes.SHA256()))
        keyf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.chmod(keyf, 0o644)
        os.chmod(crt, 0o644)
    return pkimod.Credential(cert=crt, key=keyf, subject_cn=MACHINE_CN)


def get(port: int, path: str, timeout: float = 30) -> clients.CurlResult:
    return clients.curl_plain(port, path, timeout=timeout)


def code(r: clients.CurlResult) -> str:
    return (r.wo("code") or ["?"])[0]


def backend_lines(a: ap.Apache, name: str) -> list[str]:
    return a.log_file(f"{name}.log").splitlines()


def wait_lines(a: ap.Apache, name: str, n: int, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = backend_lines(a, name)
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def frontend_body(port: int, p: pkimod.PKI, routes: str, *, vhost_extra: str = "",
                  engine: bool = True) -> str:
    lines = [f"Listen 127.0.0.1:{port}", f"<VirtualHost 127.0.0.1:{port}>",
             "    ServerName localhost"]
    if engine:
        lines += ["    TLSProxyEngine on", f"    TLSProxyCA {p.root_ca}"]
    lines += ["    " + l for l in (vhost_extra + routes).strip("\n").splitlines()]
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


# ---- backends (started once per module) --------------------------------------------------------

class Backends:
    pass


@pytest.fixture(scope="module")
def backends(module_apache_factory, pki):
    b = Backends()
    (b.ok, b.ok2, b.wrong_name, b.expired, b.h2, b.tls12, b.need_cert, b.need_cert2,
     b.down) = ap.free_ports(9)
    other = pkimod.issue_leaf(pki, "proxy-other", ["other.test"])
    log = BACKEND_LOG

    def tls_vhost(port, cert, name="localhost", extra=""):
        return ap.tls_site(port, cert, server_name=name,
                           extra=f'CustomLog "logs/p{port}.log" backendtls\n' + extra)

    body = (log + tls_vhost(b.ok, pki.leaves["p256"])
            + tls_vhost(b.ok2, pki.leaves["rsa2048"])
            # a certificate for other.test only, served to SNI localhost
            + tls_vhost(b.wrong_name, other, name="other.test", extra="ServerAlias localhost")
            + tls_vhost(b.expired, pki.expired)
            + tls_vhost(b.h2, pki.leaves["p256"], extra="Protocols h2 http/1.1"))
    b.mod_tls = module_apache_factory(body, extra_modules=("http2", "status"), name="backend")
    for a in [b.mod_tls]:
        a.add_file("hello.txt", b"hello from the backend\n")

    def ssl_vhost(port, extra=""):
        return ap.mod_ssl_site(port, pki.leaves["p256"],
                               extra=f'CustomLog "logs/p{port}.log" backendtls\n' + extra)

    need_cert = (f"SSLVerifyClient require\nSSLVerifyDepth 2\n"
                 f"SSLCACertificateFile {pki.root_ca}")
    body = (log + ssl_vhost(b.tls12, "SSLProtocol -all +TLSv1.2")
            + ssl_vhost(b.need_cert, need_cert) + ssl_vhost(b.need_cert2, need_cert))
    b.mod_ssl = module_apache_factory(body, extra_modules=MOD_SSL, tls_module=False,
                                      name="backend-ssl")
    b.mod_ssl.add_file("hello.txt", b"hello from the backend\n")
    return b


def routes(b: Backends, p: pkimod.PKI) -> str:
    machine = machine_credential(p)
    return f"""\
ProxyPass /ok/ https://localhost:{b.ok}/
ProxyPass /wrong-ca/ https://localhost:{b.ok2}/
<Proxy "https://localhost:{b.ok2}/*">
    TLSProxyCA {p.intermediate_ca}
</Proxy>
ProxyPass /wrong-name/ https://localhost:{b.wrong_name}/
ProxyPass /expired/ https://localhost:{b.expired}/
ProxyPass /down/ https://localhost:{b.down}/
ProxyPass /tls12/ https://localhost:{b.tls12}/
<Proxy "https://localhost:{b.tls12}/*">
    TLSProxyProtocol TLSv1.3+
</Proxy>
ProxyPass /no-cert/ https://localhost:{b.need_cert}/
ProxyPass /cert/ https://localhost:{b.need_cert2}/
<Proxy "https://localhost:{b.need_cert2}/*">
    TLSProxyMachineCertificate {machine.cert} {machine.key}
</Proxy>
"""


@pytest.fixture(scope="module")
def frontend(module_apache_factory, backends, pki):
    port = ap.free_port()
    a = module_apache_factory(frontend_body(port, pki, routes(backends, pki)),
                              extra_modules=PROXY_MODULES, name="frontend")
    a.port = port
    return a


# ---- success paths -------------------------------------------------------------------------------

def test_https_backend_verified_by_ca_and_name(frontend, backends):
    r = get(frontend.port, "/ok/hello.txt")
    assert code(r) == "200", r.stderr
    assert r.body == b"hello from the backend\n"
    line = wait_lines(backends.mod_tls, f"p{backends.ok}", 1)[-1]
    assert " TLSv1.3 " in line and "GET /hello.txt" in line


def test_sni_carries_backend_host_name(frontend, backends):
    assert code(get(frontend.port, "/ok/hello.txt")) == "200"
    assert " sni=localhost " in wait_lines(backends.mod_tls, f"p{backends.ok}", 1)[-1]


def test_connection_reuse_1000_requests(frontend, backends):
    """A burst of 1000 proxied requests (one client connection) uses far fewer backend
    connections: mod_proxy_http keeps the TLS session of a backend connection across requests."""
    before = len(backend_lines(backends.mod_tls, f"p{backends.ok}"))
    paths = ["/ok/hello.txt"] * 1000
    cmd = ["curl", "-sS", "--max-time", "240", "-o", "/dev/null", "-w", "%{http_code}\n"]
    cmd += [f"http://127.0.0.1:{frontend.port}{x}" for x in paths]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    codes = out.stdout.split()
    assert codes.count("200") == 1000, out.stderr[-2000:]
    lines = wait_lines(backends.mod_tls, f"p{backends.ok}", before + 1000)[before:]
    assert len(lines) == 1000
    backend_ports = {l.split()[0] for l in lines}
    assert len(backend_ports) <= 20, f"{len(backend_ports)} backend connections for 1000 requests"


def test_backend_handshake_logged_at_debug(module_apache_factory, backends, pki):
    """LogLevel tls:debug: each completed backend handshake with its protocol and cipher."""
    port = ap.free_port()
    a = module_apache_factory(frontend_body(port, pki, f"ProxyPass /ok/ https://localhost:{backends.ok}/\n"),
                              extra_modules=PROXY_MODULES, name="frontend-vars",
                              log_level="info tls:debug")
    r = get(port, "/ok/hello.txt")
    assert code(r) == "200"
    line = a.wait_for_log(r"TLS handshake with backend localhost .* completed")
    assert "TLSv1.3" in line and "TLS_" in line


# ---- failures: 502 and one line naming backend and reason ---------------------------------------

@pytest.mark.parametrize("path,reason", [
    ("/wrong-ca/", r"not issued by a trusted CA"),
    ("/wrong-name/", r"not valid for the backend's host name"),
    ("/expired/", r"has expired"),
    ("/tls12/", r"protocol_version|PeerIncompatible|peer is incompatible"),
    ("/no-cert/", r"certificate|handshake_failure"),
])
def test_backend_failure_gives_502_and_one_log_line(frontend, backends, path, reason):
    mark = frontend.log_mark()
    r = get(frontend.port, path + "hello.txt")
    assert code(r) == "502", r.stderr
    line = frontend.wait_for_log(r"TLS handshake with backend localhost:\d+ failed", since=mark)
    assert re.search(reason, line), line
    ours = [l for l in frontend.error_log(mark).splitlines() if "[tls:" in l]
    assert len(ours) == 1, ours


def test_backend_down_gives_503(frontend):
    r = get(frontend.port, "/down/hello.txt")
    assert code(r) == "503"


def test_failed_backend_does_not_disturb_good_one(frontend):
    get(frontend.port, "/expired/hello.txt")
    assert code(get(frontend.port, "/ok/hello.txt")) == "200"


# ---- client certificates -----------------------------------------------------------------------

def test_machine_certificate_accepted_by_mod_ssl(frontend, backends):
    r = get(frontend.port, "/cert/hello.txt")
    assert code(r) == "200", frontend.error_log()[-2000:]
    line = wait_lines(backends.mod_ssl, f"p{backends.need_cert2}", 1)[-1]
    assert MACHINE_CN in line


def mod_tls_client_auth_supported() -> bool:
    a = ap.Apache("TLSClientCertificate required\n", name="probe")
    try:
        return a.config_test().returncode == 0
    finally:
        a.cleanup()


@pytest.mark.skipif(not mod_tls_client_auth_supported(),
                    reason="TLSClientCertificate (issue #6) is not in this build yet")
def test_machine_certificate_accepted_by_mod_tls(apache_factory, pki):
    bport, fport, fport2 = ap.free_ports(3)
    be = apache_factory(BACKEND_LOG + ap.tls_site(
        bport, pki.leaves["p256"],
        extra=f"TLSClientCertificate required\nTLSClientCA {pki.root_ca}\n"
              f'CustomLog "logs/p{bport}.log" backendtls'), name="backend-auth")
    be.add_file("hello.txt", b"hi\n")
    machine = machine_credential(pki)
    apache_factory(frontend_body(
        fport, pki, f"TLSProxyMachineCertificate {machine.cert} {machine.key}\n"
                    f"ProxyPass /b/ https://localhost:{bport}/\n"),
        extra_modules=PROXY_MODULES, name="frontend-auth")
    assert code(get(fport, "/b/hello.txt")) == "200"
    assert MACHINE_CN in wait_lines(be, f"p{bport}", 1)[-1]
    apache_factory(frontend_body(fport2, pki, f"ProxyPass /b/ https://localhost:{bport}/\n"),
                   extra_modules=PROXY_MODULES, name="frontend-noauth")
    assert code(get(fport2, "/b/hello.txt")) == "502"


# ---- HTTP/2 and WebSocket backends ---------------------------------------------------------------

def test_h2_backend_via_proxy_http2(apache_factory, backends, pki):
    port = ap.free_port()
    apache_factory(frontend_body(port, pki, f"ProxyPass /h2/ h2://localhost:{backends.h2}/\n"),
                   extra_modules=PROXY_MODULES + ("http2", "proxy_http2"), name="frontend-h2")
    r = get(port, "/h2/hello.txt")
    assert code(r) == "200", r.stderr
    assert r.body == b"hello from the backend\n"
    line = wait_lines(backends.mod_tls, f"p{backends.h2}", 1)[-1]
    assert "HTTP/2.0" in line, line


WS_SERVER = """\
import asyncio, ssl, sys
import websockets

async def echo(ws, path=None):
    async for message in ws:
        await ws.send("echo:" + message)

async def main(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    async with websockets.serve(echo, "127.0.0.1", port, ssl=ctx):
        print("ready", flush=True)
        await asyncio.Future()

asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
"""


@pytest.fixture
def wss_server(pki, tmp_path):
    port = ap.free_port()
    script = tmp_path / "ws_server.py"
    script.write_text(WS_SERVER)
    cred = pki.leaves["p256"]
    proc = subprocess.Popen(["/usr/bin/python3", str(script), str(port), str(cred.cert),
                             str(cred.key)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 20
        while not ap.is_listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"websocket server did not start: {proc.stderr.read()}")
            time.sleep(0.05)
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_wss_backend(apache_factory, pki, wss_server):
    import websockets

    port = ap.free_port()
    apache_factory(frontend_body(port, pki, f"ProxyPass /ws/ wss://localhost:{wss_server}/\n"),
                   extra_modules=PROXY_MODULES + ("proxy_wstunnel",), name="frontend-ws")

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/", open_timeout=20) as ws:
            replies = []
            for m in ("one", "two", "x" * 70000):
                await ws.send(m)
                replies.append(await asyncio.wait_for(ws.recv(), 20))
            return replies

    replies = asyncio.run(asyncio.wait_for(talk(), 60))
    assert replies[:2] == ["echo:one", "echo:two"]
    assert replies[2] == "echo:" + "x" * 70000


# ---- mod_tls and mod_ssl in one server -----------------------------------------------------------

def test_mixed_frontends_each_module_its_own_backends(apache_factory, backends, pki):
    """A mod_tls frontend whose backend TLS is mod_ssl's (SSLProxyEngine), and a mod_ssl frontend
    whose backend TLS is mod_tls's (TLSProxyEngine), in one server. mod_ssl is limited to TLS 1.2
    to backends, so the backend's log shows which module made each connection."""
    tls_port, ssl_port = ap.free_ports(2)
    body = (ap.tls_site(tls_port, pki.leaves["p256"], extra=f"""\
SSLProxyEngine on
SSLProxyCACertificateFile {pki.root_ca}
SSLProxyProtocol -all +TLSv1.2
ProxyPass /b/ https://localhost:{backends.ok}/
""") + ap.mod_ssl_site(ssl_port, pki.leaves["p256"], extra=f"""\
TLSProxyEngine on
TLSProxyCA {pki.root_ca}
TLSProxyProtocol TLSv1.3+
ProxyPass /b/ https://localhost:{backends.ok2}/
"""))
    mixed = apache_factory(body, extra_modules=MOD_SSL + PROXY_MODULES, name="mixed",
                           log_level="info tls:debug")
    r1 = clients.curl(tls_port, "/b/hello.txt", cacert=pki.root_ca)
    r2 = clients.curl(ssl_port, "/b/hello.txt", cacert=pki.root_ca)
    assert r1.wo("code") == ["200"], mixed.error_log()[-2000:]
    assert r2.wo("code") == ["200"], mixed.error_log()[-2000:]
    assert " TLSv1.2 " in wait_lines(backends.mod_tls, f"p{backends.ok}", 1)[-1]
    assert " TLSv1.3 " in wait_lines(backends.mod_tls, f"p{backends.ok2}", 1)[-1]
    # mod_tls did the TLS to backend ok2 only
    ours = [l for l in mixed.error_log().splitlines() if "TLS handshake with backend" in l]
    assert ours and all(f":{backends.ok2}" in l for l in ours), ours


# ---- configuration ---------------------------------------------------------------------------------

def test_proxy_directives_in_proxy_section_and_vhost(apache_factory, pki):
    a = ap.Apache(f"""\
TLSProxyEngine on
TLSProxyProtocol TLSv1.2+
TLSProxyCiphersPrefer TLS_AES_128_GCM_SHA256
TLSProxyCiphersSuppress TLS_CHACHA20_POLY1305_SHA256
<Proxy "https://backend.test/*">
    TLSProxyEngine off
    TLSProxyCA {pki.root_ca}
    TLSProxyProtocol TLSv1.3+
    TLSProxyCiphersPrefer ECDHE-ECDSA-AES128-GCM-SHA256
    TLSProxyCiphersSuppress none
</Proxy>
""", extra_modules=PROXY_MODULES, name="conf-ok")
    try:
        res = a.config_test()
        assert res.returncode == 0, res.stderr
    finally:
        a.cleanup()


@pytest.mark.parametrize("line,expect", [
    ("TLSProxyEngine maybe", "TLSProxyEngine: 'maybe' is not a flag value"),
    ("TLSProxyCA /nonexistent/ca.pem", "TLSProxyCA: cannot open"),
    ("TLSProxyProtocol TLSv9.9+", "TLSProxyProtocol"),
    ("TLSProxyCiphersPrefer NOT_A_CIPHER", "unknown cipher suite 'NOT_A_CIPHER'"),
    ("TLSProxyMachineCertificate /nonexistent.crt", "TLSProxyMachineCertificate: cannot open"),
])
def test_bad_proxy_directive_is_startup_error(line, expect):
    a = ap.Apache(line + "\n", extra_modules=PROXY_MODULES, name="conf-bad")
    try:
        res = a.config_test()
        out = res.stdout + res.stderr
        assert res.returncode != 0
        assert expect in out, out
        assert ap.mentions_location(out, a.conf_path, a.line_of(line)), out
    finally:
        a.cleanup()


def test_ca_file_without_certificates_is_startup_error(pki):
    a = ap.Apache(f"TLSProxyCA {pki.leaves['p256'].key}\n", extra_modules=PROXY_MODULES,
                  name="conf-bad-ca")
    try:
        res = a.config_test()
        assert res.returncode != 0
        assert "TLSProxyCA" in res.stderr and "no usable CERTIFICATE" in res.stderr, res.stderr
    finally:
        a.cleanup()


def test_suppressing_every_suite_stops_startup(apache_factory, pki):
    a = apache_factory("""\
Listen 127.0.0.1:{port}
TLSProxyEngine on
TLSProxyCiphersSuppress TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256 \
TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 \
TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 \
TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
""".replace("{port}", str(ap.free_port())), start=False, extra_modules=PROXY_MODULES,
        name="conf-suppress")
    res = a.start(check=False)
    assert not res.came_up
    assert "TLSProxyCiphersSuppress leaves no cipher suite" in res.combined, res.combined


def test_engine_off_leaves_backend_to_nobody(apache_factory, backends, pki):
    """Without TLSProxyEngine (and without mod_ssl) nobody can do the backend's TLS: mod_proxy
    refuses the request instead of sending plain HTTP to an https:// backend."""
    port = ap.free_port()
    a = apache_factory(frontend_body(port, pki, f"ProxyPass /ok/ https://localhost:{backends.ok}/\n",
                                     engine=False), extra_modules=PROXY_MODULES, name="frontend-off")
    r = get(port, "/ok/hello.txt")
    assert code(r) == "500"
    assert "[tls:" not in a.error_log()


def test_backend_closing_idle_connection_then_reconnect_resumes(apache_factory, pki):
    """The backend closes an idle kept-alive connection (KeepAliveTimeout 1): the next request
    gets a new backend connection, which resumes the TLS session."""
    bport, fport = ap.free_ports(2)
    be = apache_factory(
        'LogFormat "%{remote}p %{SSL_SESSION_RESUMED}x \\"%r\\" %k" resumed\n'
        + ap.tls_site(bport, pki.leaves["p256"], extra=f'CustomLog "logs/p{bport}.log" resumed'),
        keepalive_timeout=1, name="backend-idle")
    be.add_file("hello.txt", b"hi\n")
    apache_factory(frontend_body(fport, pki, f"ProxyPass /b/ https://localhost:{bport}/\n"),
                   extra_modules=PROXY_MODULES, name="frontend-idle")
    assert code(get(fport, "/b/hello.txt")) == "200"
    # wait until the backend has closed the idle connection (bounded; not a timing assertion)
    time.sleep(2.5)
    assert code(get(fport, "/b/hello.txt")) == "200"
    lines = wait_lines(be, f"p{bport}", 2)
    assert len(lines) == 2
    # %k (requests before this one on its connection) 0: a new backend connection. Not the
    # client ports: the backend closed first, so the kernel may hand the same one out again.
    assert lines[1].split()[-1] == "0", f"expected a new backend connection: {lines}"
    assert lines[0].split()[1] == "Initial" and lines[1].split()[1] == "Resumed", lines


def test_default_ca_is_the_system_store(apache_factory, backends, pki):
    """Without TLSProxyCA the system store is used: it does not trust the test CA."""
    port = ap.free_port()
    a = apache_factory(frontend_body(port, pki, f"TLSProxyEngine on\n"
                                                f"ProxyPass /ok/ https://localhost:{backends.ok}/\n",
                                     engine=False), extra_modules=PROXY_MODULES,
                       name="frontend-sysca")
    assert code(get(port, "/ok/hello.txt")) == "502"
    line = a.wait_for_log(r"TLS handshake with backend localhost:\d+ failed")
    assert "not issued by a trusted CA" in line


def ip_sans(cred: pkimod.Credential) -> list[str]:
    cert = x509.load_pem_x509_certificate(cred.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def test_ip_literal_backend_with_ip_san_is_served(apache_factory, backends, pki):
    """rustls 0.23 verifies a certificate for an IP address: a backend addressed by IP whose
    certificate has that IP as a SAN (the test leaves carry IP:127.0.0.1) is served; no SNI is
    sent for an IP (RFC 6066)."""
    assert ip_sans(pki.leaves["p256"]) == ["127.0.0.1"], "precondition: backend ok's SAN"
    port = ap.free_port()
    a = apache_factory(frontend_body(port, pki, f"ProxyPass /ip/ https://127.0.0.1:{backends.ok}/\n"),
                       extra_modules=PROXY_MODULES, name="frontend-ip", log_level="info tls:debug")
    before = len(backend_lines(backends.mod_tls, f"p{backends.ok}"))
    r = get(port, "/ip/hello.txt")
    assert code(r) == "200", a.error_log()[-2000:]
    assert r.body == b"hello from the backend\n"
    line = wait_lines(backends.mod_tls, f"p{backends.ok}", before + 1)[-1]
    assert "GET /hello.txt" in line and " TLSv1.3 " in line, line
    assert " sni=- " in line, line   # no SNI for an IP address
    done = a.wait_for_log(r"TLS handshake with backend 127\.0\.0\.1 .* completed")
    assert f"(127.0.0.1:{backends.ok})" in done, done
    assert not [l for l in a.error_log().splitlines() if "[tls:" in l and "failed" in l]


def test_ip_literal_backend_without_ip_san_is_502(apache_factory, pki):
    """The same with a backend whose certificate names only `localhost`: 502, and one line
    naming the backend and saying the certificate is not valid for its name."""
    bport, fport = ap.free_ports(2)
    no_ip = pkimod.issue_leaf(pki, "proxy-no-ip-san", ["localhost"])
    assert ip_sans(no_ip) == [], "precondition"
    be = apache_factory(ap.tls_site(bport, no_ip), name="backend-no-ip-san")
    be.add_file("hello.txt", b"hi\n")
    a = apache_factory(frontend_body(fport, pki, f"ProxyPass /ip/ https://127.0.0.1:{bport}/\n"
                                                 f"ProxyPass /name/ https://localhost:{bport}/\n"),
                       extra_modules=PROXY_MODULES, name="frontend-ip-nosan")
    mark = a.log_mark()
    r = get(fport, "/ip/hello.txt")
    assert code(r) == "502", r.stderr
    line = a.wait_for_log(rf"TLS handshake with backend 127\.0\.0\.1:{bport} failed", since=mark)
    assert re.search(r"not valid for the backend's (host )?name", line), line
    ours = [l for l in a.error_log(mark).splitlines() if "[tls:" in l]
    assert len(ours) == 1, ours
    # self-check: the same backend addressed by the name its certificate has is served
    assert code(get(fport, "/name/hello.txt")) == "200", a.error_log(mark)


def test_engine_and_ca_in_proxy_section_only(apache_factory, backends, pki):
    """TLSProxyEngine/TLSProxyCA only inside <Proxy>: that backend is ours; in another <Proxy>
    TLSProxyEngine off overrides the virtual host's on."""
    port = ap.free_port()
    a = apache_factory(frontend_body(port, pki, f"""\
<Proxy "https://localhost:{backends.ok}/*">
    TLSProxyEngine on
    TLSProxyCA {pki.root_ca}
</Proxy>
ProxyPass /ok/ https://localhost:{backends.ok}/
""", engine=False), extra_modules=PROXY_MODULES, name="frontend-section",
        log_level="info tls:debug")
    assert code(get(port, "/ok/hello.txt")) == "200"
    a.wait_for_log(r"TLS handshake with backend localhost .* completed")
    # built at startup (in the parent) from the <Proxy> section, not per connection
    assert "TLS to backends: 1 client configuration(s) built" in a.error_log()

    port2 = ap.free_port()
    b = apache_factory(frontend_body(port2, pki, f"""\
<Proxy "https://localhost:{backends.ok2}/*">
    TLSProxyEngine off
</Proxy>
ProxyPass /ok2/ https://localhost:{backends.ok2}/
"""), extra_modules=PROXY_MODULES, name="frontend-section-off")
    assert code(get(port2, "/ok2/hello.txt")) == "500"
    assert "[tls:" not in b.error_log()


def test_proxy_protocol_and_cipher_settings_apply(apache_factory, backends, pki):
    """TLSProxyProtocol and TLSProxyCiphersSuppress/Prefer shape what the backend negotiates."""
    port = ap.free_port()
    apache_factory(frontend_body(port, pki, f"""\
TLSProxyProtocol TLSv1.2+
TLSProxyCiphersSuppress TLS_AES_256_GCM_SHA384 TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256
TLSProxyCiphersPrefer ECDHE-ECDSA-CHACHA20-POLY1305
ProxyPass /ok/ https://localhost:{backends.ok}/
"""), extra_modules=PROXY_MODULES, name="frontend-ciphers")
    before = len(backend_lines(backends.mod_tls, f"p{backends.ok}"))
    assert code(get(port, "/ok/hello.txt")) == "200"
    line = wait_lines(backends.mod_tls, f"p{backends.ok}", before + 1)[-1]
    assert " TLSv1.2 " in line and line.endswith("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"), line
