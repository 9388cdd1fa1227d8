"""Handshakes with every key type and both TLS versions, with curl, openssl s_client and Python
ssl; certificate/key file formats; an expired certificate."""
from __future__ import annotations

import re
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import apache
import clients
from pki import KEY_TYPES

VERSIONS = {
    "1.2": dict(curl=["--tlsv1.2", "--tls-max", "1.2"], s_client="-tls1_2",
                py=dict(min_version=ssl.TLSVersion.TLSv1_2, max_version=ssl.TLSVersion.TLSv1_2),
                name="TLSv1.2"),
    "1.3": dict(curl=["--tlsv1.3"], s_client="-tls1_3",
                py=dict(min_version=ssl.TLSVersion.TLSv1_3), name="TLSv1.3"),
}

# what `openssl s_client` reports for the server's key
# s_client's lines for the server's key and signature, as OpenSSL 3.0 and 3.5 print them.
S_CLIENT_KEY = {"rsa2048": r"a:PKEY: (rsaEncryption|RSA), 2048 \(bit\)",
                "rsa4096": r"a:PKEY: (rsaEncryption|RSA), 4096 \(bit\)",
                "p256": r"a:PKEY: (id-ecPublicKey, 256 \(bit\)|EC, \(prime256v1\))",
                "p384": r"a:PKEY: (id-ecPublicKey, 384 \(bit\)|EC, \(secp384r1\))",
                "ed25519": r"a:PKEY: ED25519"}
S_CLIENT_SIG = {"rsa2048": r"Peer signature type: (RSA-PSS|rsa_pss_rsae_)",
                "rsa4096": r"Peer signature type: (RSA-PSS|rsa_pss_rsae_)",
                "p256": r"Peer signature type: (ECDSA|ecdsa_secp256r1_)",
                "p384": r"Peer signature type: (ECDSA|ecdsa_secp384r1_)",
                "ed25519": r"Peer signature type: (ed25519|Ed25519)"}


def page_for(kt: str) -> bytes:
    return f"<html>served with the {kt} certificate</html>\n".encode()


def check_key_type(der: bytes, kt: str) -> None:
    pub = x509.load_der_x509_certificate(der).public_key()
    if kt.startswith("rsa"):
        assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == int(kt[3:]), pub
    elif kt in ("p256", "p384"):
        assert isinstance(pub, ec.EllipticCurvePublicKey), pub
        assert pub.curve.name == {"p256": "secp256r1", "p384": "secp384r1"}[kt]
    else:
        assert isinstance(pub, ed25519.Ed25519PublicKey), pub


@pytest.fixture(scope="module", params=KEY_TYPES)
def keyed(request, module_apache_factory, pki):
    kt = request.param
    port = apache.free_port()
    a = module_apache_factory(apache.tls_site(port, pki.leaves[kt]))
    a.add_file("index.html", page_for(kt))
    return kt, a, port


@pytest.mark.parametrize("ver", VERSIONS)
def test_curl(keyed, ver, pki):
    kt, a, port = keyed
    v = VERSIONS[ver]
    r = clients.curl(port, "/", cacert=pki.root_ca, args=["-v"] + v["curl"])
    assert r.returncode == 0, r.stderr
    assert r.body == page_for(kt)
    assert r.wo("verify") == ["0"]
    assert r.wo("code") == ["200"]
    assert f"SSL connection using {v['name']}" in r.stderr, r.stderr


@pytest.mark.parametrize("ver", VERSIONS)
def test_s_client(keyed, ver, pki):
    kt, a, port = keyed
    v = VERSIONS[ver]
    req = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    p = clients.s_client(port, [v["s_client"], "-ign_eof"], input=req, cafile=pki.root_ca)
    out = p.stdout
    assert p.returncode == 0, out
    assert "Verify return code: 0 (ok)" in out, out
    assert f"Protocol  : {v['name']}" in out, out
    assert f"New, {v['name']}, Cipher is" in out, out
    assert re.search(S_CLIENT_KEY[kt], out), out
    assert re.search(S_CLIENT_SIG[kt], out), out
    assert re.search(r"s:C ?= ?DE, O ?= ?mod_tls integration tests, CN ?= ?localhost", out), out
    assert "HTTP/1.1 200 OK" in out, out
    assert page_for(kt).decode() in out, out


@pytest.mark.parametrize("ver", VERSIONS)
def test_python_ssl(keyed, ver, pki):
    kt, a, port = keyed
    v = VERSIONS[ver]
    ctx = clients.context(pki.root_ca, **v["py"])
    with clients.tls_connect(port, ctx) as s:
        assert s.version() == v["name"]
        check_key_type(s.getpeercert(binary_form=True), kt)
        assert s.getpeercert()["subject"] == ((("countryName", "DE"),),
                                              (("organizationName", "mod_tls integration tests"),),
                                              (("commonName", "localhost"),))
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        resp = clients.read_response(s.makefile("rb"))
    assert resp.status == 200
    assert resp.body == page_for(kt)


def test_default_client_gets_tls13(keyed, pki):
    """A client allowing both versions negotiates TLS 1.3 with a default configuration."""
    kt, a, port = keyed
    status, _, body, version, _ = clients.https_get(port, "/", clients.context(pki.root_ca))
    assert (status, body, version) == (200, page_for(kt), "TLSv1.3")


# -- key and certificate file formats ----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["rsa-pkcs1", "ec-sec1", "combined"])
def test_key_file_formats(fmt, apache_factory, pki):
    if fmt == "rsa-pkcs1":
        cred, kt = (pki.leaves["rsa2048"].cert, pki.rsa_pkcs1_key), "rsa2048"
        assert b"BEGIN RSA PRIVATE KEY" in pki.rsa_pkcs1_key.read_bytes()
    elif fmt == "ec-sec1":
        cred, kt = (pki.leaves["p256"].cert, pki.ec_sec1_key), "p256"
        assert b"BEGIN EC PRIVATE KEY" in pki.ec_sec1_key.read_bytes()
    else:
        cred, kt = pki.combined, "p256"
        assert pki.combined.key is None
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, cred))
    a.add_file("index.html", b"formats\n")
    for ver in VERSIONS.values():
        ctx = clients.context(pki.root_ca, **ver["py"])
        status, _, body, version, _ = clients.https_get(port, "/", ctx)
        assert (status, body, version) == (200, b"formats\n", ver["name"])
    with clients.tls_connect(port, clients.context(pki.root_ca)) as s:
        check_key_type(s.getpeercert(binary_form=True), kt)


def test_expired_certificate_is_served_but_fails_verification(apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.expired))
    a.add_file("index.html", b"expired\n")
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 60, r.stderr            # peer certificate cannot be authenticated
    assert r.wo("verify") == ["10"], r.stderr      # X509_V_ERR_CERT_HAS_EXPIRED
    r = clients.curl(port, "/", args=["--insecure"])
    assert r.returncode == 0 and r.body == b"expired\n", r.stderr


# -- several certificates: the first usable one for the client's signature schemes -------------

def test_ecdsa_first_rsa_second(apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, [pki.leaves["p256"], pki.leaves["rsa2048"]]))
    a.add_file("index.html", b"multi\n")
    # a modern client gets the ECDSA certificate
    with clients.tls_connect(port, clients.context(pki.root_ca)) as s:
        check_key_type(s.getpeercert(binary_form=True), "p256")
    # a TLS 1.2 client that offers only RSA suites gets the RSA certificate
    ctx = clients.context(pki.root_ca, max_version=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    with clients.tls_connect(port, ctx) as s:
        assert s.version() == "TLSv1.2"
        check_key_type(s.getpeercert(binary_form=True), "rsa2048")
    # a TLS 1.3 client that offers only RSA-PSS signatures gets the RSA certificate
    p = clients.s_client(port, ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"], cafile=pki.root_ca)
    assert "Server public key is 2048 bit" in p.stdout, p.stdout
