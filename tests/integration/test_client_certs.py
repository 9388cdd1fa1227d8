"""Client certificate authentication (issue 6): TLSClientCA, TLSClientCertificate
required/optional/none, TLSUserName, TLSClientCRL.

The client PKI is made with `openssl ca` (CA, client certificates, an expired one, a revocation
and the CRL by `openssl ca -gencrl`); a second, unrelated CA issues the "other CA" certificate
and a CRL of its own; python3-cryptography makes a CRL that is past its nextUpdate.

One server, one address, three name-based hosts chosen by SNI:
  req.test  TLSClientCertificate required, TLSClientCRL, TLSUserName SSL_CLIENT_S_DN_CN
  opt.test  TLSClientCertificate optional
  open.test no client certificates (never asks)
"""
from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import apache
import clients
import pki as pki_mod

OPENSSL_CNF = """\
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {d}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
preserve = yes
x509_extensions = client_ext
default_days = 30
default_crl_days = 30
[ policy_any ]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ req ]
distinguished_name = req_dn
[ req_dn ]
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""


def _run(*args):
    subprocess.run(args, check=True, capture_output=True, timeout=60)


class ClientCA:
    """A CA directory driven by `openssl ca`."""

    def __init__(self, d: Path, cn: str, issuer: "ClientCA | None" = None):
        self.d = d
        d.mkdir(parents=True)
        os.chmod(d, 0o755)
        (d / "newcerts").mkdir()
        (d / "index.txt").write_text("")
        (d / "serial").write_text("1000\n")
        (d / "crlnumber").write_text("01\n")
        self.cnf = d / "openssl.cnf"
        self.cnf.write_text(OPENSSL_CNF.format(d=d))
        self.key, self.cert = d / "ca.key", d / "ca.crt"
        subj = f"/O=mod_tls client tests/CN={cn}"
        if issuer is None:
            _run("openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(self.key), "-out",
                 str(self.cert), "-subj", subj, "-days", "30", "-config", str(self.cnf),
                 "-extensions", "v3_ca")
        else:
            csr = d / "ca.csr"
            _run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", str(self.key), "-out", str(csr), "-subj", subj,
                 "-config", str(self.cnf))
            _run("openssl", "ca", "-batch", "-notext", "-config", str(issuer.cnf), "-extensions",
                 "v3_ca", "-in", str(csr), "-out", str(self.cert))

    def sub_ca(self, name: str, cn: str) -> "ClientCA":
        """An intermediate CA issued by this CA, as a CA directory of its own."""
        sub = ClientCA(self.d.parent / name, cn, issuer=self)
        return sub

    def issue(self, name: str, cn: str, *, expired: bool = False) -> pki_mod.Credential:
        key, csr, crt = self.d / f"{name}.key", self.d / f"{name}.csr", self.d / f"{name}.crt"
        _run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(csr), "-subj",
             f"/O=Example Org/OU=People/CN={cn}", "-config", str(self.cnf))
        dates = (["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] if expired
                 else [])
        _run("openssl", "ca", "-batch", "-notext", "-config", str(self.cnf), "-in", str(csr),
             "-out", str(crt), *dates)
        for p in (key, crt):
            os.chmod(p, 0o644)
        return pki_mod.Credential(cert=crt, key=key, subject_cn=cn)

    def revoke(self, cred: pki_mod.Credential) -> None:
        _run("openssl", "ca", "-config", str(self.cnf), "-revoke", str(cred.cert))

    def gencrl(self, name: str) -> Path:
        out = self.d / name
        _run("openssl", "ca", "-config", str(self.cnf), "-gencrl", "-out", str(out))
        os.chmod(out, 0o644)
        return out

    def expired_crl(self, name: str) -> Path:
        """A CRL of this CA whose nextUpdate has passed (python3-cryptography)."""
        key = serialization.load_pem_private_key(self.key.read_bytes(), None)
        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        now = datetime.datetime.now(datetime.timezone.utc)
        crl = (x509.CertificateRevocationListBuilder().issuer_name(cert.subject)
               .last_update(now - datetime.timedelta(days=10))
               .next_update(now - datetime.timedelta(days=1))
               .sign(key, hashes.SHA256()))
        out = self.d / name
        out.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        os.chmod(out, 0o644)
        return out


@pytest.fixture(scope="module")
def cpki(pki):
    base = pki.dir / "client-pki"
    ca = ClientCA(base / "ca", "Client Test CA")
    other = ClientCA(base / "other", "Other Test CA")
    creds = {
        "alice": ca.issue("alice", "alice"),
        "carol": ca.issue("carol", "carol"),
        "bob": ca.issue("bob", "bob"),
        "expired": ca.issue("expired", "old-timer", expired=True),
        "mallory": other.issue("mallory", "mallory"),
    }
    # dave: issued by an intermediate CA; the client sends leaf + intermediate
    sub = ca.sub_ca("sub", "Client Sub CA")
    dave = sub.issue("dave", "dave")
    chained = sub.d / "dave-chain.crt"
    chained.write_bytes(dave.cert.read_bytes() + sub.cert.read_bytes())
    os.chmod(chained, 0o644)
    creds["dave"] = pki_mod.Credential(cert=chained, key=dave.key, subject_cn="dave")
    creds["sub_ca"] = sub.cert
    ca.revoke(creds["bob"])
    crl = ca.gencrl("crl.pem")
    der_crl = ca.d / "crl.der"
    _run("openssl", "crl", "-in", str(crl), "-outform", "DER", "-out", str(der_crl))
    os.chmod(der_crl, 0o644)
    return {"ca": ca, "other": other, "crl": crl, "crl_der": der_crl,
            "other_crl": other.gencrl("other-crl.pem"), "expired_crl": ca.expired_crl("old.pem"),
            **creds}


REQ, OPT, OPEN = "req.test", "opt.test", "open.test"


@pytest.fixture(scope="module")
def srv(module_apache_factory, pki, cpki):
    port = apache.free_port()
    leaf = pki_mod.issue_leaf(pki, "clientcert-hosts", [REQ, OPT, OPEN])
    env_loc = ("<Location /cgi-bin/>\n    TLSOptions +StdEnvVars +ExportCertData\n</Location>\n")
    req_extra = (f"TLSClientCA {cpki['ca'].cert}\nTLSClientCertificate required\n"
                 f"TLSClientCRL {cpki['crl']}\nTLSUserName SSL_CLIENT_S_DN_CN\n"
                 'CustomLog logs/user.log "%u %r"\n' + env_loc +
                 "<Location /alice-only>\n"
                 "    Require expr %{SSL_CLIENT_S_DN_CN} == 'alice'\n</Location>\n"
                 "<Location /user-alice>\n    Require user alice\n</Location>\n")
    opt_extra = (f"TLSClientCA {cpki['ca'].cert}\nTLSClientCertificate optional\n"
                 f"TLSClientCRL {cpki['crl_der']}\n" + env_loc)
    body = (apache.tls_address(port)
            + apache.name_vhost(port, REQ, leaf, extra=req_extra)
            + apache.name_vhost(port, OPT, leaf, extra=opt_extra)
            + apache.name_vhost(port, OPEN, leaf, extra=env_loc))
    a = module_apache_factory(body, start=False, extra_modules=("authn_core", "authz_user"))
    a.add_cgi("env.py", apache.ENV_CGI)
    a.add_file("index.html", b"hello\n")
    a.add_file("alice-only", b"for alice\n")
    a.add_file("user-alice", b"user alice\n")
    a.start()
    return {"a": a, "port": port}


def get(srv, pki, host, path="/", cred=None, args=()):
    extra = list(args)
    if cred is not None:
        extra += ["--cert", str(cred.cert), "--key", str(cred.key)]
    return clients.curl(srv["port"], path, cacert=pki.root_ca, host=host, args=extra, timeout=30)


def s_client(srv, pki, host, cred=None, args=()):
    extra = ["-ign_eof", *args]  # read the response until the server closes
    if cred is not None:
        extra += ["-cert", str(cred.cert), "-key", str(cred.key)]
    return clients.s_client(srv["port"], extra, cafile=pki.root_ca, servername=host,
                            input=b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                            % host.encode(), timeout=30)


def env_of(r) -> dict:
    assert r.returncode == 0, r.stderr
    assert r.wo("code") == ["200"], r.stderr
    return json.loads(r.body)


# -- required ---------------------------------------------------------------------------------

def test_required_good_certificate_gets_variables(srv, pki, cpki):
    env = env_of(get(srv, pki, REQ, "/cgi-bin/env.py", cpki["alice"]))
    cert = x509.load_pem_x509_certificate(cpki["alice"].cert.read_bytes())
    assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert env["SSL_CLIENT_S_DN_CN"] == "alice"
    assert env["SSL_CLIENT_S_DN_O"] == "Example Org"
    assert env["SSL_CLIENT_S_DN_OU"] == "People"
    assert env["SSL_CLIENT_S_DN"] == "CN=alice,OU=People,O=Example Org"
    assert env["SSL_CLIENT_I_DN"] == "CN=Client Test CA,O=mod_tls client tests"
    assert env["SSL_CLIENT_I_DN_CN"] == "Client Test CA"
    assert env["SSL_CLIENT_M_SERIAL"] == format(cert.serial_number, "X").rjust(4, "0")
    assert env["SSL_CLIENT_V_START"].endswith(" GMT")
    assert env["SSL_CLIENT_V_END"].endswith(str(pki_mod.valid_until(cert).year) + " GMT")
    assert int(env["SSL_CLIENT_V_REMAIN"]) in (29, 30)
    # ExportCertData: the certificate as PEM, the same certificate the client sent
    sent = x509.load_pem_x509_certificate(env["SSL_CLIENT_CERT"].encode())
    assert sent == cert
    # TLSUserName: REMOTE_USER for the CGI
    assert env["REMOTE_USER"] == "alice"


def test_required_without_certificate_fails(srv, pki):
    a = srv["a"]
    mark = a.log_mark()
    r = get(srv, pki, REQ, "/")
    assert r.returncode != 0
    assert r.wo("code") in ([], ["000"])
    line = a.wait_for_log(r"TLS handshake failed: .*no certificate.*TLSClientCertificate required",
                          since=mark)
    assert "SNI: req.test" in line


@pytest.mark.parametrize("who,reason,alert", [
    ("mallory", r"\[CN=mallory,OU=People,O=Example Org\] is not issued by a TLSClientCA", "unknown ca"),
    ("expired", r"\[CN=old-timer,.*\] has expired", "certificate expired"),
    ("bob", r"\[CN=bob,.*\] has been revoked \(serial [0-9A-F]+, issuer CN=Client Test CA,"
            r"O=mod_tls client tests\)", "certificate revoked"),
])
def test_required_refuses_invalid_certificates(srv, pki, cpki, who, reason, alert):
    a = srv["a"]
    mark = a.log_mark()
    r = get(srv, pki, REQ, "/", cpki[who])
    assert r.returncode != 0 and r.wo("code") in ([], ["000"])
    a.wait_for_log("TLS handshake failed: handshake failed: the client certificate " + reason,
                   since=mark)
    # the alert on the wire says why, under both versions
    for version in ("-tls1_2", "-tls1_3"):
        mark = a.log_mark()
        p = s_client(srv, pki, REQ, cpki[who], [version])
        assert f"alert {alert}" in p.stdout, p.stdout
        assert "HTTP/1.1 200" not in p.stdout
        a.wait_for_log(f"sent alert {alert.replace(' ', '_')}", since=mark)


def test_revoked_serial_is_logged(srv, pki, cpki):
    a = srv["a"]
    serial = format(x509.load_pem_x509_certificate(cpki["bob"].cert.read_bytes()).serial_number,
                    "X")
    mark = a.log_mark()
    get(srv, pki, REQ, "/", cpki["bob"])
    a.wait_for_log(f"has been revoked \\(serial 0*{serial},", since=mark)


def test_wrong_key_is_refused_by_the_client_tools(srv, pki, cpki):
    # curl/OpenSSL refuse to present a certificate with a key that is not its own; the server
    # side of a CertificateVerify made with the wrong key is covered by the bridge's unit tests.
    wrong = pki_mod.Credential(cert=cpki["alice"].cert, key=cpki["carol"].key)
    r = get(srv, pki, REQ, "/", wrong)
    assert r.returncode != 0


def test_client_chain_through_an_intermediate(srv, pki, cpki):
    env = env_of(get(srv, pki, REQ, "/cgi-bin/env.py", cpki["dave"]))
    assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert env["SSL_CLIENT_S_DN_CN"] == "dave"
    assert env["SSL_CLIENT_I_DN_CN"] == "Client Sub CA"
    sub = x509.load_pem_x509_certificate(cpki["sub_ca"].read_bytes())
    assert x509.load_pem_x509_certificate(env["SSL_CLIENT_CHAIN_0"].encode()) == sub
    assert "SSL_CLIENT_CHAIN_1" not in env


def test_require_expr_on_subject(srv, pki, cpki):
    assert get(srv, pki, REQ, "/alice-only", cpki["alice"]).wo("code") == ["200"]
    assert get(srv, pki, REQ, "/alice-only", cpki["carol"]).wo("code") == ["403"]


def test_user_name_for_authz_and_access_log(srv, pki, cpki):
    a = srv["a"]
    assert get(srv, pki, REQ, "/user-alice", cpki["alice"]).wo("code") == ["200"]
    assert get(srv, pki, REQ, "/user-alice", cpki["carol"]).wo("code") == ["403"]
    assert get(srv, pki, REQ, "/index.html?who=carol", cpki["carol"]).wo("code") == ["200"]
    log = (a.root / "logs" / "user.log").read_text()
    assert "alice GET /user-alice HTTP/1.1" in log
    assert "carol GET /index.html?who=carol HTTP/1.1" in log


# -- optional ---------------------------------------------------------------------------------

def test_optional_without_certificate_proceeds(srv, pki):
    env = env_of(get(srv, pki, OPT, "/cgi-bin/env.py"))
    assert env["SSL_CLIENT_VERIFY"] == "NONE"
    assert "SSL_CLIENT_S_DN" not in env and "SSL_CLIENT_CERT" not in env


def test_optional_with_good_certificate(srv, pki, cpki):
    env = env_of(get(srv, pki, OPT, "/cgi-bin/env.py", cpki["carol"]))
    assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert env["SSL_CLIENT_S_DN_CN"] == "carol"
    assert "REMOTE_USER" not in env  # no TLSUserName on this host


@pytest.mark.parametrize("who", ["mallory", "expired", "bob"])
def test_optional_refuses_invalid_certificate(srv, pki, cpki, who):
    # bob is revoked by the DER CRL this host loads
    a = srv["a"]
    mark = a.log_mark()
    r = get(srv, pki, OPT, "/", cpki[who])
    assert r.returncode != 0
    a.wait_for_log("TLS handshake failed: .*the client certificate", since=mark)


# -- two hosts on one address ----------------------------------------------------------------

def test_host_without_client_auth_never_asks(srv, pki, cpki):
    p = s_client(srv, pki, OPEN)
    assert "No client certificate CA names sent" in p.stdout, p.stdout
    assert "HTTP/1.1 200" in p.stdout
    p = s_client(srv, pki, REQ, cpki["alice"])
    assert "Acceptable client certificate CA names" in p.stdout
    assert "Client Test CA" in p.stdout
    assert "HTTP/1.1 200" in p.stdout
    env = env_of(get(srv, pki, OPEN, "/cgi-bin/env.py"))
    assert env["SSL_CLIENT_VERIFY"] == "NONE"


def test_request_for_client_auth_host_on_other_hosts_connection_is_misdirected(srv, pki):
    r = get(srv, pki, OPEN, "/", args=["-H", f"Host: {REQ}"])
    assert r.wo("code") == ["421"]


# -- configuration errors -------------------------------------------------------------------

@pytest.mark.parametrize("arg,want", [("sometimes", "write required, optional or none")])
def test_bad_client_certificate_mode_is_a_syntax_error(apache_factory, pki, arg, want):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.leaves["p256"],
                                       extra=f"TLSClientCertificate {arg}"), start=False)
    res = a.start(check=False)
    text = res.combined + a.error_log()
    assert want in text, text
    assert apache.mentions_location(text, a.conf_path, a.line_of("TLSClientCertificate")), text


def test_missing_crl_file_is_a_syntax_error(apache_factory, pki, cpki):
    port = apache.free_port()
    extra = (f"TLSClientCA {cpki['ca'].cert}\nTLSClientCertificate required\n"
             f"TLSClientCRL {cpki['ca'].d}/no-such.crl")
    a = apache_factory(apache.tls_site(port, pki.leaves["p256"], extra=extra), start=False)
    res = a.start(check=False)
    text = res.combined + a.error_log()
    assert "TLSClientCRL" in text and "no-such.crl" in text, text
    assert apache.mentions_location(text, a.conf_path, a.line_of("TLSClientCRL")), text


@pytest.mark.parametrize("case", ["other_ca_crl", "expired_crl", "no_ca"])
def test_bad_client_auth_config_is_a_startup_error(apache_factory, pki, cpki, case):
    ca = cpki["ca"].cert
    extra = {
        "other_ca_crl": f"TLSClientCA {ca}\nTLSClientCertificate required\n"
                        f"TLSClientCRL {cpki['other_crl']}",
        "expired_crl": f"TLSClientCA {ca}\nTLSClientCertificate required\n"
                       f"TLSClientCRL {cpki['expired_crl']}",
        "no_ca": "TLSClientCertificate required",
    }[case]
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.leaves["p256"], extra=extra), start=False)
    res = a.start(check=False)
    text = res.combined + a.error_log()
    assert not apache.is_listening(port)
    directive = "TLSClientCRL" if case != "no_ca" else "TLSClientCertificate"
    line = a.line_of(directive)
    assert apache.mentions_location(text, a.conf_path, line), text
    want = {
        "other_ca_crl": "is not a certificate of TLSClientCA",
        "expired_crl": "is out of date",
        "no_ca": "add 'TLSClientCA ca.pem'",
    }[case]
    assert want in text, text


def test_bad_client_ca_file_is_a_syntax_error(apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.leaves["p256"],
                                       extra=f"TLSClientCA {pki.leaves['p256'].key}"),
                       start=False)
    res = a.start(check=False)
    text = res.combined + a.error_log()
    assert "TLSClientCA" in text and "no PEM certificate" in text, text
    assert apache.mentions_location(text, a.conf_path, a.line_of("TLSClientCA")), text


# -- resumption ------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_resumed_session_keeps_the_client_certificate(srv, pki, cpki, version):
    import ssl
    v = getattr(ssl.TLSVersion, version.replace(".", "_"))
    ctx = clients.context(pki.root_ca, min_version=v, max_version=v)
    ctx.load_cert_chain(str(cpki["alice"].cert), str(cpki["alice"].key))
    with clients.tls_open(srv["port"], ctx, REQ) as s:
        first = clients.http_request(s, REQ, "/cgi-bin/env.py")
        session = s.session
    assert first.status == 200
    raw = __import__("socket").create_connection(("127.0.0.1", srv["port"]), timeout=20)
    with ctx.wrap_socket(raw, server_hostname=REQ, session=session) as s:
        again = clients.http_request(s, REQ, "/cgi-bin/env.py")
        assert s.session_reused
    env = json.loads(again.body)
    assert env["SSL_SESSION_RESUMED"] == "Resumed"
    assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert env["SSL_CLIENT_S_DN_CN"] == "alice"
    assert env["REMOTE_USER"] == "alice"
