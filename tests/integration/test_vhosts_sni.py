"""Name-based virtual hosts on one TLS address: the ClientHello's SNI picks the host (certificate
and content), TLSStrictSNI, Host vs SNI (421), several certificates per host.

Every host has its own certificate (subject CN = its ServerName) and its own DocumentRoot
(htdocs/<name>/index.html = "site <name>\\n"), so both the presented certificate and the page
tell which host served.
"""
from __future__ import annotations

import re
import socket
import ssl

import pytest

import apache
import clients
import pki as pki_mod

INFO_TAG = "[tls:info]"


def page(name: str) -> bytes:
    return f"site {name}\n".encode()


def ctx_verify(pki, **kw) -> ssl.SSLContext:
    """Verifies the chain and the name against the SNI sent."""
    return clients.context(pki.root_ca, **kw)


def ctx_noverify(**kw) -> ssl.SSLContext:
    """For connections without SNI or with names the certificate does not carry."""
    return clients.context(verify=False, **kw)


def certs_for(pki):
    """The credentials of the hosts (made once per PKI, files in pki.dir)."""
    return {
        "a.test": pki_mod.issue_leaf(pki, "vh-a", ["a.test", "www.a.test"]),
        "b.test": pki_mod.issue_leaf(pki, "vh-b", ["b.test"]),
        "wild.test": pki_mod.issue_leaf(pki, "vh-wild", ["wild.test", "*.wild.test"]),
        # one certificate for two hosts
        "shared": pki_mod.issue_leaf(pki, "vh-shared", ["shared1.test", "shared2.test"],
                                     cn="shared.test"),
        "one.test": pki_mod.issue_leaf(pki, "vh-one", ["one.test"]),
        "multi-p256": pki_mod.issue_leaf(pki, "vh-multi-p256", ["multi.test"], kind="p256"),
        "multi-rsa": pki_mod.issue_leaf(pki, "vh-multi-rsa", ["multi.test"], kind="rsa2048"),
        "ed-ed25519": pki_mod.issue_leaf(pki, "vh-ed-ed25519", ["ed.test"], kind="ed25519"),
        "ed-p256": pki_mod.issue_leaf(pki, "vh-ed-p256", ["ed.test"], kind="p256"),
    }


def add_pages(a: apache.Apache, names) -> None:
    for n in names:
        a.add_file(f"{n}/index.html", page(n))


def s_request(port: int, sni: str | None, host: str, args=()) -> str:
    """s_client with SNI `sni` (None: none), one GET with Host `host`; the whole transcript."""
    req = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    return clients.s_client(port, ["-ign_eof", *args], input=req, servername=sni).stdout


def assert_subject(out: str, cn: str) -> None:
    assert re.search(rf"^subject=.*CN ?= ?{re.escape(cn)}\s*$", out, re.M), (
        f"certificate subject CN {cn} not presented:\n{out}")


def assert_refused_unrecognized_name(a: apache.Apache, port: int, sni: str) -> None:
    """Python client: the handshake fails with the unrecognized_name alert and the module logs
    one info line naming the client and the reason."""
    mark = a.log_mark()
    with pytest.raises(ssl.SSLError) as ei:
        raw = socket.create_connection(("127.0.0.1", port), timeout=20)
        cport = raw.getsockname()[1]
        try:
            ctx_noverify().wrap_socket(raw, server_hostname=sni)
        finally:
            raw.close()
    assert "TLSV1_UNRECOGNIZED_NAME" in str(ei.value), repr(ei.value)
    line = a.wait_for_log(rf"unrecognized_name.*:{cport}\]|:{cport}\].*unrecognized_name",
                          since=mark)
    assert INFO_TAG in line, line
    lines = [l for l in a.error_log(mark).splitlines()
             if f":{cport}]" in l and "[tls:" in l]
    assert len(lines) == 1, "expected one [tls:*] line for the refused client:\n" + "\n".join(lines)


# -- one address, several hosts, TLSStrictSNI default (on) ----------------------------------------

@pytest.fixture(scope="module")
def sites(module_apache_factory, pki):
    """P: a.test (first; alias www.a.test), b.test, wild.test (*.wild.test), shared1/shared2.test
    (same certificate files), multi.test (ECDSA then RSA), ed.test (Ed25519 then ECDSA).
    Q: only one.test. Both with the default TLSStrictSNI."""
    c = certs_for(pki)
    p, q = apache.free_ports(2)
    body = (apache.tls_address(p)
            + apache.name_vhost(p, "a.test", c["a.test"], aliases=["www.a.test"],
                                docroot="htdocs/a.test")
            + apache.name_vhost(p, "b.test", c["b.test"], docroot="htdocs/b.test")
            + apache.name_vhost(p, "wild.test", c["wild.test"], aliases=["*.wild.test"],
                                docroot="htdocs/wild.test")
            + apache.name_vhost(p, "shared1.test", c["shared"], docroot="htdocs/shared1.test")
            + apache.name_vhost(p, "shared2.test", c["shared"], docroot="htdocs/shared2.test")
            + apache.name_vhost(p, "multi.test", [c["multi-p256"], c["multi-rsa"]],
                                docroot="htdocs/multi.test")
            + apache.name_vhost(p, "ed.test", [c["ed-ed25519"], c["ed-p256"]],
                                docroot="htdocs/ed.test")
            + apache.tls_address(q)
            + apache.name_vhost(q, "one.test", c["one.test"], docroot="htdocs/one.test"))
    a = module_apache_factory(body, start=False)
    add_pages(a, ["a.test", "b.test", "wild.test", "shared1.test", "shared2.test", "multi.test",
                  "ed.test", "one.test"])
    a.start()
    return a, p, q


# (SNI sent, subject CN expected, page of host)
SNI_CASES = [
    ("a.test", "a.test", "a.test"),
    ("b.test", "b.test", "b.test"),
    ("www.a.test", "a.test", "a.test"),          # ServerAlias
    ("x.wild.test", "wild.test", "wild.test"),   # wildcard alias
    ("wild.test", "wild.test", "wild.test"),
    ("shared2.test", "shared.test", "shared2.test"),
    ("B.TEST", "b.test", "b.test"),              # case-insensitive
    ("Www.A.Test", "a.test", "a.test"),
    ("X.Wild.TEST", "wild.test", "wild.test"),
]


@pytest.mark.parametrize("sni,cn,site", SNI_CASES, ids=[c[0] for c in SNI_CASES])
def test_sni_selects_host(sni, cn, site, sites, pki):
    a, port, _ = sites
    r = clients.sni_get(port, ctx_verify(pki), sni)
    assert pki_mod.subject_cn(r.cert_der) == cn
    assert (r.status, r.body) == (200, page(site))


@pytest.mark.parametrize("name", ["a.test", "b.test", "x.wild.test"])
def test_sni_selects_host_s_client_and_curl(name, sites, pki):
    a, port, _ = sites
    cn = "wild.test" if name.endswith("wild.test") else name
    site = cn
    out = s_request(port, name, name, ["-CAfile", str(pki.root_ca), "-verify_return_error"])
    assert_subject(out, cn)
    assert "Verify return code: 0 (ok)" in out, out
    assert "HTTP/1.1 200" in out and page(site).decode() in out, out
    r = clients.curl(port, "/", cacert=pki.root_ca, host=name)
    assert r.returncode == 0, r.stderr
    assert r.body == page(site)


def test_unknown_sni_refused_strict(sites, pki):
    a, port, _ = sites
    assert_refused_unrecognized_name(a, port, "unknown.test")
    # a name that only looks like a wildcard match is unknown too
    assert_refused_unrecognized_name(a, port, "wild.test.example")
    p = clients.s_client(port, servername="nope.test")
    # OpenSSL 3.0 prints "tlsv1 unrecognized name ... SSL alert number 112"
    assert p.returncode != 0 and "unrecognized name" in p.stdout, p.stdout
    assert "alert number 112" in p.stdout, p.stdout
    assert "Cipher is" not in p.stdout or "Cipher is (NONE)" in p.stdout, p.stdout
    r = clients.curl(port, "/", host="nope.test", args=["--insecure"])
    assert r.returncode == 35 and r.body == b"", r.stderr    # CURLE_SSL_CONNECT_ERROR
    # and the server goes on serving
    assert clients.sni_get(port, ctx_verify(pki), "b.test").status == 200


def test_unknown_sni_refused_on_single_host_address(sites):
    a, _, q = sites
    assert_refused_unrecognized_name(a, q, "unknown.test")


def test_no_sni_several_hosts_403(sites):
    """Strict: a connection without SNI gets the first host's certificate but 403 for requests,
    because the address has several name-based hosts."""
    a, port, _ = sites
    r = clients.sni_get(port, ctx_noverify(), None, host="a.test")
    assert pki_mod.subject_cn(r.cert_der) == "a.test"
    assert r.status == 403, (r.status, r.body)
    r = clients.sni_get(port, ctx_noverify(), None, host="b.test")
    assert r.status == 403, (r.status, r.body)
    out = s_request(port, None, "a.test")
    assert "Cipher is" in out and "Cipher is (NONE)" not in out, out
    assert_subject(out, "a.test")
    assert "HTTP/1.1 403" in out, out


def test_no_sni_single_host_served(sites):
    a, _, q = sites
    r = clients.sni_get(q, ctx_noverify(), None, host="one.test")
    assert pki_mod.subject_cn(r.cert_der) == "one.test"
    assert (r.status, r.body) == (200, page("one.test"))


def client_hello_of(transcript: str) -> bytes:
    """The ClientHello s_client sent, from its -msg dump."""
    lines = transcript.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(">>> ") and line.endswith("ClientHello"):
            hexdump = []
            for l in lines[i + 1:]:
                if not re.fullmatch(r"\s+(?:[0-9a-f]{2} ?)+", l):
                    break
                hexdump.append(l)
            return bytes.fromhex("".join(hexdump))
    raise AssertionError(f"no ClientHello in the -msg dump:\n{transcript}")


def ip_sni_request(port: int, host: str) -> str:
    """s_client sending SNI 127.0.0.1 (checked in its ClientHello: server_name extension, entry
    host_name of length 9) and one GET with Host `host`."""
    out = s_request(port, "127.0.0.1", host, ["-msg"])
    assert b"\x00\x0c\x00\x00\x09127.0.0.1" in client_hello_of(out), (
        "precondition: the ClientHello carries SNI 127.0.0.1")
    return out


def test_ip_literal_sni_is_no_sni(sites, lax):
    """RFC 6066 forbids IP literals in SNI; rustls 0.23 accepts such a ClientHello and takes it
    as one without SNI (0.20 refused it with decode_error). So the connection is handled exactly
    as one without SNI: served by the address's first host where there is one host or
    TLSStrictSNI is off; under TLSStrictSNI on with several hosts, the first host's certificate
    and 403 for requests. Nothing about the IP is logged."""
    a, port, q = sites
    mark = a.log_mark()
    # one host (one.test), TLSStrictSNI on: served
    out = ip_sni_request(q, "one.test")
    assert_subject(out, "one.test")
    assert "HTTP/1.1 200" in out and page("one.test").decode() in out, out
    # several hosts, TLSStrictSNI on: the handshake completes with the first host's certificate,
    # the request is refused as for a client without SNI
    out = ip_sni_request(port, "a.test")
    assert "Cipher is" in out and "Cipher is (NONE)" not in out, out
    assert_subject(out, "a.test")
    assert "HTTP/1.1 403" in out, out
    ours = [l for l in a.error_log(mark).splitlines() if "[tls:" in l]
    assert not [l for l in ours if "127.0.0.1 as SNI" in l or "decode" in l], ours
    # TLSStrictSNI off, several hosts: served by the first host
    la, lp, _ = lax
    out = ip_sni_request(lp, "a.test")
    assert_subject(out, "a.test")
    assert "HTTP/1.1 200" in out and page("a.test").decode() in out, out


def test_main_server_name_counts_as_known(sites):
    """SPEC: for TLSStrictSNI the main server's names count (base config: ServerName
    localhost), so SNI 'localhost' is not refused with unrecognized_name."""
    a, port, _ = sites
    with clients.tls_open(port, ctx_noverify(), "localhost") as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")


# -- Host vs SNI ---------------------------------------------------------------------------------

# (SNI, Host header, expected status, page of the Host's site on 200)
HOST_CASES = [
    ("a.test", "b.test", 421, None),             # different certificates
    ("www.a.test", "b.test", 421, None),
    ("b.test", "x.wild.test", 421, None),
    ("a.test", "a.test", 200, "a.test"),
    ("a.test", "www.a.test", 200, "a.test"),     # alias of the same host
    ("a.test", "A.TEST", 200, "a.test"),
    ("x.wild.test", "y.wild.test", 200, "wild.test"),
    ("shared1.test", "shared2.test", 200, "shared2.test"),  # same certificate files
    ("shared2.test", "shared1.test", 200, "shared1.test"),
]


@pytest.mark.parametrize("sni,host,status,site", HOST_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in HOST_CASES])
def test_host_vs_sni(sni, host, status, site, sites, pki):
    a, port, _ = sites
    r = clients.sni_get(port, ctx_verify(pki), sni, host=host)
    assert r.status == status, (r.status, r.body[:300])
    if site:
        assert r.body == page(site)


def test_host_vs_sni_on_one_keepalive_connection(sites, pki):
    """The 421 is per request: the connection served its own host first. (After the 421 httpd
    closes the connection, as it does for any error raised while reading a request.)"""
    a, port, _ = sites
    with clients.tls_open(port, ctx_verify(pki), "a.test") as s:
        r1 = clients.http_request(s, "a.test", close=False)
        r2 = clients.http_request(s, "b.test", close=False)
    assert (r1.status, r1.body) == (200, page("a.test"))
    assert r2.status == 421


def test_421_with_curl(sites, pki):
    a, port, _ = sites
    r = clients.curl(port, "/", cacert=pki.root_ca, host="a.test", args=["-H", "Host: b.test"])
    assert r.returncode == 0, r.stderr
    assert r.wo("code") == ["421"], r.stderr


# -- several certificates per host ---------------------------------------------------------------

def test_multi_cert_host_ecdsa_capable_client_gets_ecdsa(sites, pki):
    a, port, _ = sites
    for kw in ({}, {"max_version": ssl.TLSVersion.TLSv1_2}):
        r = clients.sni_get(port, ctx_verify(pki, **kw), "multi.test")
        assert pki_mod.key_kind(r.cert_der) == "ecdsa", kw
        assert (r.status, r.body) == (200, page("multi.test"))


@pytest.mark.parametrize("args", [
    ["-tls1_3", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"],
    ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"],
    ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
    ["-tls1_2", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"],
], ids=["tls13-rsa-sigalgs", "tls13-pss", "tls12-rsa-suite", "tls12-rsa-sigalgs"])
def test_multi_cert_host_rsa_only_client_gets_rsa(args, sites, pki):
    a, port, _ = sites
    out = s_request(port, "multi.test", "multi.test",
                    [*args, "-CAfile", str(pki.root_ca), "-verify_return_error"])
    # OpenSSL 3.0: "Peer signature type: RSA-PSS"; 3.5: "rsa_pss_rsae_sha256".
    assert re.search(r"(Server|Peer) public key is 2048 bit", out), out
    assert re.search(r"(?i)Peer signature type: rsa", out), out
    assert "HTTP/1.1 200" in out and page("multi.test").decode() in out, out


def test_multi_cert_host_rsa_only_python_tls12(sites, pki):
    a, port, _ = sites
    ctx = ctx_verify(pki, max_version=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    r = clients.sni_get(port, ctx, "multi.test")
    assert pki_mod.key_kind(r.cert_der) == "rsa"
    assert r.status == 200


@pytest.mark.parametrize("ver", ["-tls1_3", "-tls1_2"])
def test_ed25519_first(ver, sites, pki):
    """ed.test: Ed25519 first, ECDSA second. A client offering ed25519 gets Ed25519; one that
    offers only ECDSA schemes gets the ECDSA certificate."""
    a, port, _ = sites
    out = s_request(port, "ed.test", "ed.test",
                    [ver, "-sigalgs", "ed25519", "-CAfile", str(pki.root_ca),
                     "-verify_return_error"])
    assert re.search(r"(?i)Peer signature type: ed25519", out), out
    assert "HTTP/1.1 200" in out, out
    out = s_request(port, "ed.test", "ed.test",
                    [ver, "-sigalgs", "ecdsa_secp256r1_sha256", "-CAfile", str(pki.root_ca),
                     "-verify_return_error"])
    assert re.search(r"(?i)Peer signature type: ecdsa", out), out
    assert "HTTP/1.1 200" in out, out


def test_certificate_of_other_host_not_used(sites, pki):
    """RSA-only client to b.test (ECDSA only): no fallback to another host's RSA certificate."""
    a, port, _ = sites
    out = clients.s_client(port, ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"],
                           servername="b.test").stdout
    assert "Server public key is 2048 bit" not in out, out
    assert not re.search(r"^subject=.*CN ?= ?multi\.test", out, re.M), out


# -- TLSStrictSNI off / where its value comes from -----------------------------------------------

@pytest.fixture(scope="module")
def lax(module_apache_factory, pki):
    """P: first host a.test has `TLSStrictSNI OFF`, second b.test `TLSStrictSNI On`
    (the first host's value applies: not strict).
    R: first host a.test has no directive, second b.test `TLSStrictSNI off` (strict)."""
    c = certs_for(pki)
    p, r = apache.free_ports(2)
    body = (apache.tls_address(p)
            + apache.name_vhost(p, "a.test", c["a.test"], docroot="htdocs/a.test",
                                extra="TLSStrictSNI OFF")
            + apache.name_vhost(p, "b.test", c["b.test"], docroot="htdocs/b.test",
                                extra="TLSStrictSNI On")
            + apache.tls_address(r)
            + apache.name_vhost(r, "a.test", c["a.test"], docroot="htdocs/a.test")
            + apache.name_vhost(r, "b.test", c["b.test"], docroot="htdocs/b.test",
                                extra="TLSStrictSNI off"))
    a = module_apache_factory(body, start=False)
    add_pages(a, ["a.test", "b.test"])
    a.start()
    return a, p, r


def test_strict_off_unknown_sni_served_by_first_host(lax):
    a, p, _ = lax
    res = clients.sni_get(p, ctx_noverify(), "unknown.test")
    assert pki_mod.subject_cn(res.cert_der) == "a.test"
    assert (res.status, res.body) == (200, page("a.test"))
    out = s_request(p, "nope.test", "nope.test")
    assert_subject(out, "a.test")
    assert "HTTP/1.1 200" in out, out


def test_strict_off_no_sni_served_by_first_host(lax):
    a, p, _ = lax
    res = clients.sni_get(p, ctx_noverify(), None, host="a.test")
    assert pki_mod.subject_cn(res.cert_der) == "a.test"
    assert (res.status, res.body) == (200, page("a.test"))


def test_strict_off_known_names_still_selected(lax, pki):
    a, p, _ = lax
    res = clients.sni_get(p, ctx_verify(pki), "b.test")
    assert pki_mod.subject_cn(res.cert_der) == "b.test"
    assert (res.status, res.body) == (200, page("b.test"))


def test_strict_value_of_first_host_applies(lax, pki):
    """R: only the second host says off; the address is strict (first host's default)."""
    a, _, r = lax
    assert_refused_unrecognized_name(a, r, "unknown.test")
    res = clients.sni_get(r, ctx_noverify(), None, host="a.test")
    assert res.status == 403
    assert clients.sni_get(r, ctx_verify(pki), "b.test").status == 200


def test_strict_off_in_main_server(apache_factory, pki):
    c = certs_for(pki)
    p = apache.free_port()
    body = ("TLSStrictSNI off\n" + apache.tls_address(p)
            + apache.name_vhost(p, "a.test", c["a.test"], docroot="htdocs/a.test")
            + apache.name_vhost(p, "b.test", c["b.test"], docroot="htdocs/b.test"))
    a = apache_factory(body, start=False)
    add_pages(a, ["a.test", "b.test"])
    a.start()
    res = clients.sni_get(p, ctx_noverify(), "unknown.test")
    assert pki_mod.subject_cn(res.cert_der) == "a.test"
    assert (res.status, res.body) == (200, page("a.test"))
    res = clients.sni_get(p, ctx_noverify(), None, host="a.test")
    assert (res.status, res.body) == (200, page("a.test"))


def test_hosts_without_tls_directives_are_hosts_of_their_own(apache_factory, pki):
    """Virtual hosts with no mod_tls directive (the certificate comes from the main server):
    the handshake is done for the host the SNI names, not for another one of them (issue 21:
    they shared one configuration record, and the last compiled host answered for all)."""
    c = certs_for(pki)
    p = apache.free_port()
    body = (f"TLSCertificate {c['shared'].cert} {c['shared'].key}\n" + apache.tls_address(p)
            + apache.name_vhost(p, "shared1.test", docroot="htdocs/shared1.test")
            + apache.name_vhost(p, "shared2.test", docroot="htdocs/shared2.test"))
    a = apache_factory(body, start=False, log_level="info tls:debug")
    add_pages(a, ["shared1.test", "shared2.test"])
    a.start()
    for name in ("shared2.test", "shared1.test"):
        mark = a.log_mark()
        res = clients.sni_get(p, ctx_verify(pki), name)
        assert (res.status, res.body) == (200, page(name))
        line = a.wait_for_log(r"TLS handshake completed", since=mark)
        assert f"SNI {name}, host {name}," in line, line
