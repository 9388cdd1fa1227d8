"""tls-migrate: mod_ssl configurations in, mod_tls configuration out (pure input -> output).

The command is run as users run it (tools/tls-migrate, /usr/bin/python3), on Debian's own
default-ssl.conf and ssl.conf and on fixtures with several sites, client certificates, SSLProxy*
and cipher strings. Cipher strings are checked against the `openssl ciphers` command, an
expansion independent of the one tls-migrate does through Python's ssl module.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tls_migrate import ciphers

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "tls-migrate"
FIXTURES = Path(__file__).parent / "fixtures"
DEBIAN_DEFAULT_SSL = Path("/etc/apache2/sites-available/default-ssl.conf")


def migrate(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/bin/python3", str(TOOL), *args], capture_output=True, text=True,
                          timeout=60, check=check)


def active_lines(text: str) -> list[str]:
    """The configuration lines of the output that Apache would read (no comments, no blanks)."""
    return [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]


def file_section(text: str, name: str) -> str:
    """The converted text of one file of the output (up to the next file or the summary)."""
    m = re.search(r"^# ==== \S*" + re.escape(name) + r"\n(.*?)(?=^# ==== )", text, re.S | re.M)
    assert m, f"{name} not in the output"
    return m.group(1)


def summary(text: str) -> str:
    return text[text.index("# ==== tls-migrate summary"):]


@pytest.fixture(scope="module")
def debian_tree() -> str:
    return migrate(str(FIXTURES / "debian" / "apache2.conf")).stdout


# ---- Debian's own files -------------------------------------------------------------------------
@pytest.mark.skipif(not DEBIAN_DEFAULT_SSL.exists(), reason="Debian's apache2 is not installed")
def test_debian_default_ssl_conf():
    out = migrate(str(DEBIAN_DEFAULT_SSL)).stdout
    active = active_lines(out)
    assert not [l for l in active if l.lower().startswith("ssl")], "an SSL* directive is left"
    # TLS for the site's address, at server level before the virtual host
    assert active.index("TLSEngine 443") == active.index("<VirtualHost *:443>") - 1
    assert ("TLSCertificate /etc/ssl/certs/ssl-cert-snakeoil.pem "
            "/etc/ssl/private/ssl-cert-snakeoil.key") in active
    assert active.count("TLSOptions +StdEnvVars") == 2
    # everything else of the file is kept as it was
    for kept in ("DocumentRoot /var/www/html", "ErrorLog ${APACHE_LOG_DIR}/error.log",
                 '<FilesMatch "\\.(?:cgi|shtml|phtml|php)$">', "<Directory /usr/lib/cgi-bin>"):
        assert kept in active
    assert "Every mod_ssl directive has a mod_tls equivalent." in summary(out)


def test_debian_ssl_conf_has_no_equivalents_listed_with_reasons(debian_tree):
    ssl_conf = file_section(debian_tree, "mods-enabled/ssl.conf")
    active = active_lines(ssl_conf)
    assert "TLSSessionCache shmcb:${APACHE_RUN_DIR}/ssl_scache(512000)" in active
    assert "TLSProtocol TLSv1.2+" in active
    assert not [l for l in active if l.lower().startswith("ssl")]
    s = summary(debian_tree)
    for directive, why in (("SSLRandomSeed startup builtin", "randomness from the operating"),
                           ("SSLPassPhraseDialog", "refuses encrypted keys"),
                           ("SSLSessionCacheTimeout", "no setting for the session lifetime")):
        assert re.search(re.escape(directive) + r".*\n#\s+.*" + re.escape(why), s), directive
    load = active_lines(file_section(debian_tree, "mods-enabled/ssl.load"))
    assert load == ["LoadModule tls_module /usr/lib/apache2/modules/mod_tls.so"]
    assert "a2dismod ssl && a2enmod tls" in s


def test_includes_are_followed_in_apache_order(debian_tree):
    files = re.findall(r"^# ==== (\S+?)(?::| *$)", debian_tree, re.M)
    names = [f.split("fixtures/debian/")[-1] for f in files if "fixtures/debian/" in f]
    assert names == ["apache2.conf", "mods-enabled/mpm_event.load", "mods-enabled/ssl.load",
                     "mods-enabled/ssl.conf", "ports.conf", "conf-enabled/missing-include.conf",
                     "sites-enabled/000-default.conf", "sites-enabled/client-certs.conf",
                     "sites-enabled/proxy.conf", "sites-enabled/sites-ssl.conf"]
    assert "000-default.conf: no mod_ssl directives, unchanged" in debian_tree
    # ports.conf opens 443 under mod_tls once mod_ssl is gone
    ports = file_section(debian_tree, "ports.conf")
    assert "<IfModule tls_module>\n\tListen 443\n</IfModule>" in ports
    assert "warning" not in summary(debian_tree)  # IncludeOptional of missing files is fine


def test_missing_include_is_reported(tmp_path):
    conf = tmp_path / "main.conf"
    conf.write_text("Include sub/*.conf\nInclude missing.conf\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.conf").write_text("SSLEngine off\n")
    out = migrate(str(conf), "-d", str(tmp_path)).stdout
    assert "sub/a.conf" in out
    assert re.search(r"# warning: .*main.conf:2: Include missing.conf: .* does not exist", out)


def test_unreadable_config_exits_2(tmp_path):
    r = migrate(str(tmp_path / "nope.conf"), check=False)
    assert r.returncode == 2
    assert "cannot read" in r.stderr


# ---- several sites ------------------------------------------------------------------------------
def test_several_sites(debian_tree):
    sites = file_section(debian_tree, "sites-enabled/sites-ssl.conf")
    active = active_lines(sites)
    assert active[0] == "<IfModule tls_module>"
    # one TLSEngine per address, before the first host on it
    assert active.count("TLSEngine 443") == 1
    assert active.index("TLSEngine 443") < active.index("<VirtualHost *:443>")
    i = active.index("<VirtualHost 192.0.2.10:8443 [2001:db8::10]:8443>")
    assert active[i - 2:i] == ["TLSEngine 192.0.2.10:8443", "TLSEngine [2001:db8::10]:8443"]
    assert "TLSStrictSNI on" in active
    # certificates: key paired with its certificate, in order; cert+key in one file
    assert "TLSCertificate /etc/ssl/example/www.crt /etc/ssl/example/www.key" in active
    j = active.index("TLSCertificate /etc/ssl/example/shop-ecdsa.crt /etc/ssl/example/shop-ecdsa.key")
    assert active[j + 1] == "TLSCertificate /etc/ssl/example/shop-rsa.crt /etc/ssl/example/shop-rsa.key"
    assert "TLSCertificate /etc/ssl/example/admin-with-key.pem" in active
    s = summary(debian_tree)
    assert "cat cert.pem /etc/ssl/example/chain.pem > fullchain.pem" in s
    assert "list the ECDSA one before the RSA one" in s
    assert re.search(r"sites-ssl.conf:33: <VirtualHost \*:443>\n#\s+this virtual host has no "
                     r"SSLEngine on but shares address 443", s)
    assert re.search(r"SSLOptions \+StdEnvVars \+FakeBasicAuth\n#\s+FakeBasicAuth", s)
    assert "TLSOptions +StdEnvVars" in active


def test_tls_strict_sni_default_is_mentioned_when_not_set():
    out = migrate(str(DEBIAN_DEFAULT_SSL) if DEBIAN_DEFAULT_SSL.exists()
                  else str(FIXTURES / "debian" / "sites-enabled" / "proxy.conf")).stdout
    assert "add 'TLSStrictSNI off' to keep mod_ssl's behaviour" in summary(out)


# ---- client certificates ------------------------------------------------------------------------
def test_client_certificates(debian_tree):
    active = active_lines(file_section(debian_tree, "sites-enabled/client-certs.conf"))
    for expected in ("TLSEngine 9443", "TLSClientCA /etc/ssl/example/clients-ca.pem",
                     "TLSClientCertificate required", "TLSClientCRL /etc/ssl/example/clients.crl",
                     "TLSUserName SSL_CLIENT_S_DN_CN"):
        assert expected in active
    assert not [l for l in active if l.lower().startswith("ssl")]
    s = summary(debian_tree)
    for directive, why in (("SSLCACertificatePath", "concatenate"),
                           ("SSLVerifyDepth 3", "no depth limit"),
                           ("SSLVerifyClient optional", "in the handshake only"),
                           ("SSLRequireSSL", "<RequireAll>"),
                           ('SSLRequire %{SSL_CLIENT_S_DN_O} eq "Example"', "Require expr")):
        assert re.search(re.escape(directive) + r".*\n#\s+.*" + re.escape(why), s), directive


# ---- SSLProxy* ----------------------------------------------------------------------------------
def test_proxy_directives(debian_tree):
    active = active_lines(file_section(debian_tree, "sites-enabled/proxy.conf"))
    for expected in ("TLSProxyEngine on", "TLSProxyCA /etc/ssl/example/backend-ca.pem",
                     "TLSProxyMachineCertificate /etc/ssl/example/gateway-client.pem",
                     "TLSProxyProtocol TLSv1.3+",
                     "ProxyPass /app/ https://backend.internal:8443/"):
        assert expected in active
    assert not [l for l in active if l.lower().startswith("ssl")]
    s = summary(debian_tree)
    assert re.search(r"SSLProxyVerify none\n#\s+mod_tls always verifies backend", s)
    assert re.search(r"SSLProxyCheckPeerName off\n#\s+mod_tls always checks", s)
    assert "SSLProxyCheckPeerExpire on" not in s  # equivalent: always checked


# ---- cipher strings and protocols ---------------------------------------------------------------
def openssl_tls12_codes(spec: str) -> list[int]:
    """The TLS 1.2 suites `openssl ciphers` selects for a cipher string, in order."""
    r = subprocess.run(["openssl", "ciphers", "-V", spec], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        return []
    codes = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s*0x([0-9A-F]{2}),0x([0-9A-F]{2})\s+-\s+\S+\s+(\S+)", line)
        if m and m.group(3) != "TLSv1.3":
            codes.append(int(m.group(1) + m.group(2), 16))
    return codes


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl command")
@pytest.mark.parametrize("spec", [
    "HIGH:!aNULL", "ECDHE+AESGCM", "AES256+EECDH:!ECDSA", "!CHACHA20:HIGH",
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", "kRSA:AES128-SHA",
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:@STRENGTH",
])
def test_cipher_string_matches_openssl(spec):
    selected = [ciphers.RUSTLS_TLS12[c] for c in openssl_tls12_codes(spec)
                if c in ciphers.RUSTLS_TLS12]
    result = ciphers.convert_cipher_suite([spec])
    assert result.error is None
    assert set(result.suppress) == set(ciphers.RUSTLS_TLS12.values()) - set(selected)
    default_order = [s for s in ciphers.RUSTLS_TLS12.values() if s in selected]
    assert result.prefer == (selected if selected != default_order else [])
    if not selected:
        assert any("TLS 1.2 is disabled" in n for n in result.notes)


def test_cipher_string_lists_what_rustls_lacks():
    result = ciphers.convert_cipher_suite(["ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:DHE-RSA-AES256-GCM-SHA384"])
    assert any("AES128-SHA" in n and "DHE-RSA-AES256-GCM-SHA384" in n for n in result.notes)


def test_invalid_cipher_string_changes_nothing():
    result = ciphers.convert_cipher_suite(["NOSUCHCIPHER"])
    assert result.suppress == [] and result.prefer == []
    assert any("OpenSSL selects no cipher" in n for n in result.notes)


def test_tls13_cipher_suite():
    result = ciphers.convert_cipher_suite(["TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256"])
    assert result.suppress == ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]
    assert result.prefer == []  # one suite left: no order to set
    assert any("TLS_AES_128_CCM_SHA256" in n for n in result.notes)


@pytest.mark.parametrize("spec, minimum, no13", [
    ("all -SSLv3", "TLSv1.2+", False),
    ("all -SSLv3 -TLSv1 -TLSv1.1", "TLSv1.2+", False),
    ("-all +TLSv1.3", "TLSv1.3+", False),
    ("TLSv1.3", "TLSv1.3+", False),
    ("TLSv1.2", "TLSv1.2+", True),
    ("+TLSv1.2 -TLSv1.3", "TLSv1.2+", True),
])
def test_protocol(spec, minimum, no13):
    result = ciphers.convert_protocol(spec.split())
    assert (result.minimum, result.suppress_tls13, result.error) == (minimum, no13, None)


def test_protocol_without_tls12_or_13_is_an_error():
    assert ciphers.convert_protocol(["TLSv1", "+TLSv1.1"]).error
    assert ciphers.convert_protocol(["TLSv9"]).error


def test_protocol_and_ciphers_of_a_host_become_one_suppress_line(tmp_path):
    conf = tmp_path / "site.conf"
    conf.write_text("<VirtualHost *:443>\n SSLEngine on\n SSLProtocol TLSv1.2\n"
                    " SSLCipherSuite ECDHE-RSA-AES256-GCM-SHA384\n</VirtualHost>\n")
    active = active_lines(migrate(str(conf)).stdout)
    suppress = [l for l in active if l.startswith("TLSCiphersSuppress")]
    assert len(suppress) == 1  # a second line would replace the first in mod_tls
    names = suppress[0].split()[1:]
    assert set(names) == (set(ciphers.RUSTLS_TLS13.values())
                          | set(ciphers.RUSTLS_TLS12.values())) - {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}
    # SSLHonorCipherOrder is off: the order does not matter, no TLSCiphersPrefer
    assert not [l for l in active if l.startswith("TLSCiphersPrefer")]


def test_ssl_directives_in_a_file_included_inside_a_virtual_host(tmp_path):
    (tmp_path / "main.conf").write_text("<VirtualHost *:8443>\n    ServerName a.test\n"
                                        "    Include tls-bits.conf\n</VirtualHost>\n")
    (tmp_path / "tls-bits.conf").write_text(
        "SSLEngine on\nSSLCertificateFile a.crt\nSSLCertificateKeyFile a.key\n"
        "<Location /x>\n    SSLVerifyClient require\n</Location>\n")
    out = migrate(str(tmp_path / "main.conf"), "-d", str(tmp_path)).stdout
    bits = active_lines(file_section(out, "tls-bits.conf"))
    assert bits[0] == "TLSCertificate a.crt a.key"
    # the included lines keep the context of the Include: a host, and a directory inside it
    assert re.search(r"main.conf:3 needs 'TLSEngine 8443' before it", summary(out))
    assert re.search(r"SSLVerifyClient require\n#\s+mod_tls asks for client certificates in the "
                     r"handshake only", summary(out))
