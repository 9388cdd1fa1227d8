"""Per-host TLS policy on one address: TLSProtocol, TLSCiphersPrefer, TLSCiphersSuppress,
TLSHonorClientOrder (SPEC.md). The hosts share one address and one certificate (*.pol.test,
ECDSA P-256); the SNI picks the host and with it the policy of the handshake.

The negotiated suite is read from `openssl s_client` ("New, TLSv1.x, Cipher is NAME"): Python's
ssl cannot restrict or order the TLS 1.3 suites it offers.
"""
from __future__ import annotations

import re
import socket
import ssl

import pytest

import apache
import clients
import pki as pki_mod
from test_startup_errors import _assert_location, _start_fails

TLS13 = ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"]
TLS12 = ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
         "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
         "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
         "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]

# OpenSSL names (what s_client prints for TLS 1.2)
O_AES256 = "ECDHE-ECDSA-AES256-GCM-SHA384"
O_AES128 = "ECDHE-ECDSA-AES128-GCM-SHA256"
O_CHACHA = "ECDHE-ECDSA-CHACHA20-POLY1305"

# host (left label of .pol.test) -> directives in its <VirtualHost>
HOSTS = {
    "dflt": "",                                             # first host: all defaults
    "v13": "TLSProtocol TLSv1.3+",
    "sup256": "TLSCiphersSuppress TLS_AES_256_GCM_SHA384",
    "chacha-off": "TLSCiphersPrefer TLS_CHACHA20_POLY1305_SHA256\nTLSHonorClientOrder off",
    "chacha-on": "TLSCiphersPrefer TLS_CHACHA20_POLY1305_SHA256",
    "chacha-explicit-on": "TLSCiphersPrefer TLS_CHACHA20_POLY1305_SHA256\nTLSHonorClientOrder ON",
    "serverorder": "TLSHonorClientOrder OFF",
    # TLS 1.2 spellings of ECDHE-ECDSA-AES128-GCM-SHA256 (0xC02B), server order
    "n-iana": "TLSCiphersPrefer TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\nTLSHonorClientOrder off",
    "n-openssl": f"TLSCiphersPrefer {O_AES128}\nTLSHonorClientOrder off",
    "n-hex": "TLSCiphersPrefer TLS_CIPHER_0xC02B\nTLSHonorClientOrder off",
    "n-list": ("TLSCiphersPrefer TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:"
               "ECDHE-ECDSA-AES128-GCM-SHA256\nTLSHonorClientOrder off"),
    "n-args": ("TLSCiphersPrefer TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 TLS_CIPHER_0xC02B\n"
               "TLSHonorClientOrder off"),
    "n-tls13": "TLSCiphersPrefer TLS13_AES_128_GCM_SHA256\nTLSHonorClientOrder off",
    "n-hex13": "TLSCiphersPrefer TLS_CIPHER_0x1303\nTLSHonorClientOrder off",
    "s-openssl": f"TLSCiphersSuppress {O_AES256}",
    "s-hex": "TLSCiphersSuppress TLS_CIPHER_0xC02C",
    "s-tls13": "TLSCiphersSuppress TLS13_AES_256_GCM_SHA384",
    # every TLS 1.2 suite suppressed: TLS 1.2 is disabled for this host
    "no12": "TLSCiphersSuppress " + ":".join(TLS12),
    # a later occurrence replaces an earlier one
    "later": "TLSCiphersSuppress TLS_AES_256_GCM_SHA384\nTLSCiphersSuppress TLS_AES_128_GCM_SHA256",
    # suppressing a known suite that rustls does not implement: accepted silently
    "s-unimpl": ("TLSCiphersSuppress TLS_RSA_WITH_AES_128_GCM_SHA256 AES128-GCM-SHA256 "
                 "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
}


def name(h: str) -> str:
    return f"{h}.pol.test"


@pytest.fixture(scope="module")
def pol(module_apache_factory, pki):
    cred = pki_mod.issue_leaf(pki, "pol-p256", ["pol.test", "*.pol.test"])
    port = apache.free_port()
    body = apache.tls_address(port)
    for h, extra in HOSTS.items():
        body += apache.name_vhost(port, name(h), cred, docroot=f"htdocs/{h}", extra=extra)
    a = module_apache_factory(body, start=False)
    for h in HOSTS:
        a.add_file(f"{h}/index.html", f"policy {h}\n".encode())
    a.start()
    return a, port


def negotiated(port: int, host: str, args) -> tuple[str, str]:
    """(version, cipher) that s_client negotiated with SNI name(host); fails if none."""
    out = clients.s_client(port, list(args), servername=name(host)).stdout
    m = re.search(r"^New, (TLSv1\.[23]), Cipher is (\S+)", out, re.M)
    assert m and m.group(2) != "(NONE)", f"no handshake with {name(host)}:\n{out}"
    return m.group(1), m.group(2)


def cipher13(port, host, suites: str) -> str:
    v, c = negotiated(port, host, ["-tls1_3", "-ciphersuites", suites])
    assert v == "TLSv1.3"
    return c


def cipher12(port, host, ciphers: str) -> str:
    v, c = negotiated(port, host, ["-tls1_2", "-cipher", ciphers])
    assert v == "TLSv1.2"
    return c


# -- TLSProtocol per host ----------------------------------------------------------------------

def test_protocol_per_host_tls12_client(pol):
    """One address: the TLSv1.3+ host refuses a TLS 1.2-only client with protocol_version,
    the default host serves it; one info line names the refused client."""
    a, port = pol
    ctx12 = clients.context(verify=False, max_version=ssl.TLSVersion.TLSv1_2)
    r = clients.sni_get(port, ctx12, name("dflt"))
    assert (r.status, r.version) == (200, "TLSv1.2")
    assert r.body == b"policy dflt\n"

    mark = a.log_mark()
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    cport = raw.getsockname()[1]
    try:
        with pytest.raises(ssl.SSLError) as ei:
            ctx12.wrap_socket(raw, server_hostname=name("v13"))
    finally:
        raw.close()
    assert "PROTOCOL_VERSION" in str(ei.value), repr(ei.value)
    line = a.wait_for_log(rf":{cport}\]", since=mark)
    assert "[tls:info]" in line, line
    lines = [l for l in a.error_log(mark).splitlines() if f":{cport}]" in l and "[tls:" in l]
    assert len(lines) == 1, "\n".join(lines)

    out = clients.s_client(port, ["-tls1_2"], servername=name("v13")).stdout
    assert "alert protocol version" in out, out
    assert not re.search(r"^New, TLSv1\.2, Cipher is [A-Z]", out, re.M), out


def test_protocol_per_host_tls13_client(pol):
    a, port = pol
    ctx13 = clients.context(verify=False, min_version=ssl.TLSVersion.TLSv1_3)
    for h in ("v13", "dflt"):
        r = clients.sni_get(port, ctx13, name(h))
        assert (r.status, r.version, r.body) == (200, "TLSv1.3", f"policy {h}\n".encode())


def test_curl_per_host_protocol(pol):
    a, port = pol
    r = clients.curl(port, "/", host=name("v13"), args=["--insecure", "--tls-max", "1.2"])
    assert r.returncode == 35, r.stderr
    r = clients.curl(port, "/", host=name("dflt"), args=["--insecure", "--tls-max", "1.2"])
    assert r.returncode == 0 and r.body == b"policy dflt\n", r.stderr


# -- TLS 1.3 suites ------------------------------------------------------------------------------

def test_suppress_tls13_suite(pol):
    a, port = pol
    both = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
    assert cipher13(port, "dflt", both) == "TLS_AES_256_GCM_SHA384"      # control
    assert cipher13(port, "sup256", both) == "TLS_AES_128_GCM_SHA256"
    assert cipher13(port, "s-tls13", both) == "TLS_AES_128_GCM_SHA256"    # TLS13_ alias
    # a client that offers only the suppressed suite gets no handshake
    out = clients.s_client(port, ["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"],
                           servername=name("sup256")).stdout
    assert not re.search(r"^New, TLSv1\.3, Cipher is TLS_", out, re.M), out


def test_prefer_with_server_order(pol):
    a, port = pol
    client = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
    assert cipher13(port, "chacha-off", client) == "TLS_CHACHA20_POLY1305_SHA256"
    assert cipher13(port, "n-hex13", client) == "TLS_CHACHA20_POLY1305_SHA256"
    # no preference, server order: rustls's first suite
    assert cipher13(port, "serverorder", client) == "TLS_AES_256_GCM_SHA384"
    # TLS13_ alias preferred over the client's choice
    assert cipher13(port, "n-tls13", "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256") == \
        "TLS_AES_128_GCM_SHA256"


def test_prefer_with_client_order(pol):
    """TLSHonorClientOrder on (the default): the client's first choice wins over a
    preference."""
    a, port = pol
    client = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
    assert cipher13(port, "chacha-on", client) == "TLS_AES_128_GCM_SHA256"
    assert cipher13(port, "chacha-explicit-on", client) == "TLS_AES_128_GCM_SHA256"
    assert cipher13(port, "dflt", client) == "TLS_AES_128_GCM_SHA256"


def test_later_suppress_replaces_earlier(pol):
    a, port = pol
    both = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
    assert cipher13(port, "later", both) == "TLS_AES_256_GCM_SHA384"


def test_vhost_list_replaces_server_list(apache_factory, pki):
    """Server: suppress AES-256 and prefer ChaCha with server order. A vhost with
    `TLSCiphersSuppress none` gets AES-256 back; a vhost with its own Prefer list uses only it;
    a vhost without lists inherits the server's."""
    cred = pki_mod.issue_leaf(pki, "pol-p256", ["pol.test", "*.pol.test"])
    port = apache.free_port()
    body = ("TLSCiphersSuppress TLS_AES_256_GCM_SHA384\n"
            "TLSCiphersPrefer TLS_CHACHA20_POLY1305_SHA256\nTLSHonorClientOrder off\n"
            + apache.tls_address(port)
            + apache.name_vhost(port, name("inherit"), cred)
            + apache.name_vhost(port, name("cleared"), cred,
                                extra="TLSCiphersSuppress none\nTLSCiphersPrefer default")
            + apache.name_vhost(port, name("own-prefer"), cred,
                                extra="TLSCiphersPrefer TLS_AES_128_GCM_SHA256"))
    a = apache_factory(body)
    all3 = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
    assert cipher13(port, "inherit", all3) == "TLS_CHACHA20_POLY1305_SHA256"
    assert cipher13(port, "inherit", "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256") == \
        "TLS_AES_128_GCM_SHA256"
    # none/default clear: rustls's order (server order still inherited) -> AES-256
    assert cipher13(port, "cleared", all3) == "TLS_AES_256_GCM_SHA384"
    # own Prefer list replaces the server's; suppression of AES-256 still inherited
    assert cipher13(port, "own-prefer", all3) == "TLS_AES_128_GCM_SHA256"


# -- TLS 1.2 suites and names --------------------------------------------------------------------

@pytest.mark.parametrize("host", ["n-iana", "n-openssl", "n-hex", "n-list", "n-args"])
def test_tls12_prefer_names(host, pol):
    a, port = pol
    client = f"{O_AES256}:{O_AES128}"
    assert cipher12(port, "serverorder", client) == O_AES256                # control
    assert cipher12(port, host, client) == O_AES128


def test_tls12_prefer_list_order(pol):
    """n-list prefers CHACHA then AES128: a client offering all three gets CHACHA."""
    a, port = pol
    assert cipher12(port, "n-list", f"{O_AES256}:{O_AES128}:{O_CHACHA}") == O_CHACHA


@pytest.mark.parametrize("host", ["s-openssl", "s-hex"])
def test_tls12_suppress_names(host, pol):
    a, port = pol
    client = f"{O_AES256}:{O_AES128}"
    assert cipher12(port, "dflt", client) == O_AES256                       # control
    assert cipher12(port, host, client) == O_AES128


def test_suppress_every_tls12_suite_disables_tls12(pol):
    a, port = pol
    ctx12 = clients.context(verify=False, max_version=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ssl.SSLError):
        clients.sni_get(port, ctx12, name("no12"))
    r = clients.sni_get(port, clients.context(verify=False), name("no12"))
    assert (r.status, r.version) == (200, "TLSv1.3")


def test_suppress_unimplemented_suite_is_silent(pol):
    a, port = pol
    assert cipher13(port, "s-unimpl", "TLS_AES_128_GCM_SHA256") == "TLS_AES_128_GCM_SHA256"
    for n in ("TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256",
              "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"):
        assert n not in a.error_log(), f"{n} mentioned in the error log:\n{a.error_log()}"


# -- configuration: warnings and startup errors ----------------------------------------------------

def _body(port, pki, extra: str, server: str = "") -> str:
    cred = pki.leaves["p256"]
    return server + apache.tls_site(port, cred, extra=extra)


# Known suites rustls does not implement: names from the IANA registry (all of it, any letter
# case it uses), their OpenSSL names, and TLS_CIPHER_0xNNNN for any value (issue 21).
UNIMPLEMENTED = ["TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256",
                 "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_NULL_WITH_NULL_NULL",
                 "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
                 "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S",
                 "TLS_AES_128_CCM_8_SHA256", "TLS_FALLBACK_SCSV", "CAMELLIA256-SHA",
                 "DHE-PSK-CHACHA20-POLY1305", "EXP-RC4-MD5", "TLS_CIPHER_0x0A0A",
                 "TLS_CIPHER_0xFFFF"]


@pytest.mark.parametrize("suite", UNIMPLEMENTED)
def test_prefer_unimplemented_suite_warns(suite, apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(_body(port, pki, f"TLSCiphersPrefer {suite} TLS_AES_128_GCM_SHA256"),
                       start=False)
    res = a.start()
    # "[tls:warn] ... <suite> ..." (before the error log is open, config-time messages go to
    # the stderr of `apache2 -k start`, which res.combined includes): exactly one line
    warn = [l for l in res.combined.splitlines()
            if f"'{suite}'" in l and re.search(r"(?i)warn|not implemented|unsupported", l)]
    assert len(warn) == 1, f"not one warning naming {suite}:\n{res.combined}"
    # and the server starts and serves
    p = clients.s_client(port, ["-tls1_3"])
    assert "New, TLSv1.3, Cipher is TLS_" in p.stdout, p.stdout


def test_suppress_unimplemented_registry_suites_is_silent(apache_factory, pki):
    """Suppressing a known suite that rustls lacks has nothing to do: no warning, no error."""
    port = apache.free_port()
    line = "TLSCiphersSuppress " + " ".join(UNIMPLEMENTED[:8]) + " " + ":".join(UNIMPLEMENTED[8:])
    a = apache_factory(_body(port, pki, line), start=False)
    res = a.start()
    p = clients.s_client(port, ["-tls1_3"])
    assert "New, TLSv1.3, Cipher is TLS_" in p.stdout, p.stdout
    for n in UNIMPLEMENTED:
        assert n not in res.combined, f"{n} mentioned at startup:\n{res.combined}"


BAD_NAMES = [
    ("TLSCiphersPrefer", "NOPE-CIPHER"),
    ("TLSCiphersSuppress", "NOPE-CIPHER"),
    ("TLSCiphersPrefer", "tls_aes_128_gcm_sha256"),        # exact spelling
    ("TLSCiphersSuppress", "TLS_CIPHER_0xZZZZ"),
    ("TLSCiphersPrefer", "TLS_AES_128_GCM_SHA256:BOGUS_SUITE"),
    ("TLSCiphersPrefer", "TLS_NULL_WITH_NULL_NUL"),        # in no registry
    ("TLSCiphersSuppress", "TLS_dh_anon_WITH_AES_128_CBC_SHA"),
    ("TLSCiphersSuppress", "TLS_CIPHER_0x1"),
]


@pytest.mark.parametrize("where", ["vhost", "server"])
@pytest.mark.parametrize("directive,value", BAD_NAMES, ids=[f"{d}-{v}" for d, v in BAD_NAMES])
def test_unknown_cipher_name_is_startup_error(directive, value, where, apache_factory, pki):
    port = apache.free_port()
    line = f"{directive} {value}"
    body = _body(port, pki, line) if where == "vhost" else _body(port, pki, "", line + "\n")
    a = apache_factory(body, start=False)
    text = _start_fails(a)
    bad = value.split(":")[-1]
    assert directive in text and bad in text, text
    _assert_location(text, a, line)


def test_suppress_all_suites_is_startup_error(apache_factory, pki):
    port = apache.free_port()
    line = "TLSCiphersSuppress " + " ".join(TLS13 + TLS12)
    a = apache_factory(_body(port, pki, line), start=False)
    text = _start_fails(a)
    assert "TLSCiphersSuppress" in text, text
    _assert_location_or_vhost(text, a, line)


def _assert_location_or_vhost(text: str, a: apache.Apache, *needles: str) -> None:
    """The error is about the merged result of a host: naming the directive's line or the
    <VirtualHost> line of the host it leaves without suites is both fine."""
    lines = [a.line_of(n) for n in needles] + [a.line_of("<VirtualHost ")]
    assert any(apache.mentions_location(text, a.conf_path, n) for n in lines), (
        f"none of lines {lines} of {a.conf_path} named:\n{text}")


def test_tls13_only_without_tls13_suites_is_startup_error(apache_factory, pki):
    port = apache.free_port()
    sup = "TLSCiphersSuppress " + ":".join(TLS13)
    a = apache_factory(_body(port, pki, "TLSProtocol TLSv1.3+\n" + sup), start=False)
    text = _start_fails(a)
    assert "TLSCiphersSuppress" in text or "TLSProtocol" in text, text
    _assert_location_or_vhost(text, a, sup, "TLSProtocol TLSv1.3+")


@pytest.mark.parametrize("directive", ["TLSHonorClientOrder", "TLSStrictSNI"])
@pytest.mark.parametrize("value", ["on", "off", "ON", "Off", "oN"])
def test_flags_any_case(directive, value, apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(_body(port, pki, f"{directive} {value}"), start=False)
    a.add_file("index.html", b"flag\n")
    a.start()
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == b"flag\n", r.stderr
