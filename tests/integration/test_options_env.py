"""TLSOptions: the SSL_* variables in the CGI/SSI environment (issue 4, item 3).

A Python CGI (mod_cgid) prints its environment as JSON. `TLSOptions +StdEnvVars` adds the
variables SPEC.md lists, with mod_ssl's names — compared with Debian's mod_ssl
(`SSLOptions +StdEnvVars`) serving the same certificate; `+ExportCertData` adds SSL_SERVER_CERT
(PEM of the certificate sent). Per directory / location, `-Option` in an inner scope, an argument
without +/- resetting both, .htaccess with `AllowOverride Options`.

Without StdEnvVars the environment holds HTTPS=on and SPEC.md's "Always" set (SSL_TLS_SNI,
SSL_PROTOCOL, SSL_CIPHER) — as the original mod_tls did — and none of the StdEnvVars ones.
(See ALWAYS_ENV: if the contract becomes "no SSL_* at all without StdEnvVars", empty it.)
"""
from __future__ import annotations

import json
import ssl

import pytest

import apache
import clients
import pki as pki_mod

ALWAYS_ENV = {"SSL_TLS_SNI", "SSL_PROTOCOL", "SSL_CIPHER"}
# what StdEnvVars adds for a connection without client certificate (SPEC "Variables")
STD_ENV = {
    "SSL_VERSION_INTERFACE", "SSL_VERSION_LIBRARY", "SSL_SECURE_RENEG", "SSL_COMPRESS_METHOD",
    "SSL_CIPHER_EXPORT", "SSL_CIPHER_USEKEYSIZE", "SSL_CIPHER_ALGKEYSIZE", "SSL_CLIENT_VERIFY",
    "SSL_SESSION_RESUMED", "SSL_SERVER_M_VERSION", "SSL_SERVER_M_SERIAL", "SSL_SERVER_S_DN",
    "SSL_SERVER_S_DN_CN", "SSL_SERVER_S_DN_O", "SSL_SERVER_S_DN_C", "SSL_SERVER_I_DN",
    "SSL_SERVER_I_DN_CN", "SSL_SERVER_I_DN_O", "SSL_SERVER_I_DN_C", "SSL_SERVER_V_START",
    "SSL_SERVER_V_END", "SSL_SERVER_A_SIG", "SSL_SERVER_A_KEY", "SSL_SERVER_SAN_DNS_0",
}
# equal to mod_ssl's values for the same certificate / protocol / suite
SAME_AS_MOD_SSL = {"HTTPS", "SSL_TLS_SNI", "SSL_PROTOCOL", "SSL_COMPRESS_METHOD",
                   "SSL_CIPHER_EXPORT", "SSL_CIPHER_USEKEYSIZE", "SSL_CIPHER_ALGKEYSIZE",
                   "SSL_CLIENT_VERIFY", "SSL_SESSION_RESUMED"}
# documented differences: SSL_VERSION_* (module/library), SSL_SECURE_RENEG (rustls: false),
# SSL_CIPHER for TLS 1.2 (IANA vs OpenSSL names), SSL_SESSION_ID (not provided by mod_tls)

TLS12 = {"max_version": ssl.TLSVersion.TLSv1_2}
TLS13 = {"min_version": ssl.TLSVersion.TLSv1_3}
VERSIONS = {"TLSv1.2": TLS12, "TLSv1.3": TLS13}

SSI_PAGE = (b'<!--#echo var="SSL_PROTOCOL" -->|<!--#echo var="SSL_SERVER_S_DN_CN" -->|'
            b'<!--#echo var="SSL_VERSION_LIBRARY" -->|<!--#echo var="HTTPS" -->\n')


def locations(root) -> str:
    """ScriptAliases of the CGI directory under several prefixes, TLSOptions per Location
    (longer prefixes first: mod_alias takes the first match)."""
    cgi = f"{root}/cgi-bin/"
    return f"""\
ScriptAlias /std/off/ "{cgi}"
ScriptAlias /std/ "{cgi}"
ScriptAlias /export/ "{cgi}"
ScriptAlias /both/reset/ "{cgi}"
ScriptAlias /both/defaults/ "{cgi}"
ScriptAlias /both/ "{cgi}"
ScriptAlias /dir/ "{root}/cgi-dir/"
<Location /std/>
    TLSOptions +StdEnvVars
</Location>
<Location /std/off/>
    TLSOptions -StdEnvVars
</Location>
<Location /export/>
    TLSOptions +ExportCertData
</Location>
<Location /both/>
    TLSOptions +StdEnvVars +ExportCertData
</Location>
<Location /both/reset/>
    TLSOptions ExportCertData
</Location>
<Location /both/defaults/>
    TLSOptions Defaults
</Location>
<Location /ssi/>
    TLSOptions +StdEnvVars
</Location>
"""


def server_dirs(root) -> str:
    return f"""\
<Directory "{root}/cgi-dir">
    Options +ExecCGI
    Require all granted
    TLSOptions +StdEnvVars
</Directory>
<Directory "{root}/htdocs/ht">
    AllowOverride Options
    Options +ExecCGI
    AddHandler cgi-script .py
</Directory>
<Directory "{root}/htdocs/ht-noopt">
    AllowOverride AuthConfig
    Options +ExecCGI
    AddHandler cgi-script .py
</Directory>
<Directory "{root}/htdocs/ssi">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>
"""


def _add_cgi_at(a: apache.Apache, rel_dir: str) -> None:
    d = a.root / rel_dir
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)
    p = d / "env.py"
    p.write_text(apache.ENV_CGI)
    p.chmod(0o755)


@pytest.fixture(scope="module")
def srv(module_apache_factory, pki):
    """T: rsa2048, TLSOptions only per Location/Directory/.htaccess.
    V: P-256 then RSA, vhost-level `TLSOptions +StdEnvVars +ExportCertData`, off for /off/.
    P: plain port with T's Locations.
    Reference (mod_ssl only): S rsa2048, SSLOptions +StdEnvVars for /std/, SE p256 likewise."""
    t, v, p, s, se = apache.free_ports(5)
    rsa, ec = pki.leaves["rsa2048"], pki.leaves["p256"]
    a = module_apache_factory("", start=False, extra_modules=("include",))
    root = a.root
    v_extra = (f'TLSOptions +StdEnvVars +ExportCertData\nScriptAlias /off/ "{root}/cgi-bin/"\n'
               "<Location /off/>\n    TLSOptions -StdEnvVars -ExportCertData\n</Location>")
    a.write_config(apache.tls_site(t, rsa, extra=locations(root))
                   + apache.tls_site(v, [ec, rsa], extra=v_extra)
                   + apache.plain_site(p, extra=locations(root))
                   + server_dirs(root))
    a.add_cgi("env.py", apache.ENV_CGI)
    _add_cgi_at(a, "cgi-dir")
    _add_cgi_at(a, "htdocs/ht")
    _add_cgi_at(a, "htdocs/ht-noopt")
    a.add_file("ht/.htaccess", b"TLSOptions +StdEnvVars\n")
    a.add_file("ht-noopt/.htaccess", b"TLSOptions +StdEnvVars\n")
    a.add_file("ssi/page.shtml", SSI_PAGE)
    a.start()

    ref = module_apache_factory("", start=False, tls_module=False,
                                extra_modules=apache.MOD_SSL_MODULES)
    r_extra = (f'ScriptAlias /std/ "{ref.root}/cgi-bin/"\n'
               "<Location /std/>\n    SSLOptions +StdEnvVars\n</Location>\n"
               f'ScriptAlias /both/ "{ref.root}/cgi-bin/"\n'
               "<Location /both/>\n    SSLOptions +StdEnvVars +ExportCertData\n</Location>")
    ref.write_config(apache.mod_ssl_site(s, rsa, extra=r_extra)
                     + apache.mod_ssl_site(se, ec, extra=r_extra))
    ref.add_cgi("env.py", apache.ENV_CGI)
    ref.start()
    return {"a": a, "T": t, "V": v, "P": p, "ref": ref, "S": s, "SE": se}


def ctx(pki, **kw):
    return clients.context(pki.root_ca, **kw)


def env_of(port, pki, path, **kw) -> tuple[dict, clients.Exchange]:
    x = clients.exchange(port, ctx(pki, **kw), path=path)
    assert x.response.status == 200, (path, x.response.status, x.response.body[:500])
    return json.loads(x.response.body), x


def ssl_keys(env: dict) -> set[str]:
    return {k for k in env if k.startswith("SSL_")}


def assert_std_values(env: dict, x: clients.Exchange) -> None:
    missing = STD_ENV - set(env)
    assert not missing, f"StdEnvVars variables missing: {sorted(missing)}"
    assert env["HTTPS"] == "on"
    assert env["SSL_PROTOCOL"] == x.version
    assert env["SSL_CIPHER"] == x.cipher
    assert env["SSL_TLS_SNI"] == "localhost"
    assert env["SSL_VERSION_INTERFACE"].startswith("mod_tls/")
    assert env["SSL_VERSION_LIBRARY"].startswith("rustls/")
    assert env["SSL_SECURE_RENEG"] == "false"
    assert env["SSL_COMPRESS_METHOD"] == "NULL"
    assert env["SSL_CIPHER_EXPORT"] == "false"
    bits = str(clients.cipher_key_bits(x.cipher))
    assert env["SSL_CIPHER_USEKEYSIZE"] == bits and env["SSL_CIPHER_ALGKEYSIZE"] == bits
    assert env["SSL_CLIENT_VERIFY"] == "NONE"
    assert env["SSL_SESSION_RESUMED"] == "Initial"
    from cryptography import x509
    cert = x509.load_der_x509_certificate(x.cert_der)
    assert int(env["SSL_SERVER_M_SERIAL"], 16) == cert.serial_number
    assert env["SSL_SERVER_M_SERIAL"] == env["SSL_SERVER_M_SERIAL"].upper()
    assert env["SSL_SERVER_M_VERSION"] == "3"
    assert env["SSL_SERVER_S_DN"] == "CN=localhost,O=mod_tls integration tests,C=DE"
    assert env["SSL_SERVER_S_DN_CN"] == "localhost"
    assert env["SSL_SERVER_I_DN_CN"] == pki_mod.ROOT_CN
    assert env["SSL_SERVER_SAN_DNS_0"] == "localhost"


def assert_no_std(env: dict) -> None:
    present = STD_ENV & set(env)
    assert not present, f"StdEnvVars variables where StdEnvVars is off: {sorted(present)}"


def assert_pem_is(env: dict, der: bytes) -> None:
    pem = env.get("SSL_SERVER_CERT")
    assert pem, "SSL_SERVER_CERT missing"
    assert pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:80]
    assert pem.rstrip().endswith("-----END CERTIFICATE-----"), pem[-80:]
    assert ssl.PEM_cert_to_DER_cert(pem) == der


# -- defaults ---------------------------------------------------------------------------------------

def test_without_options_only_always_vars(srv, pki):
    env, x = env_of(srv["T"], pki, "/cgi-bin/env.py")
    assert env.get("HTTPS") == "on"
    assert ssl_keys(env) == ALWAYS_ENV, sorted(ssl_keys(env))
    for k in ALWAYS_ENV:
        assert env[k] == {"SSL_TLS_SNI": "localhost", "SSL_PROTOCOL": x.version,
                          "SSL_CIPHER": x.cipher}[k]
    assert "SSL_SERVER_CERT" not in env


def test_plain_port_has_no_tls_vars(srv):
    """The same Locations on a plain port: no HTTPS=on, no SSL_*."""
    for path in ("/cgi-bin/env.py", "/std/env.py", "/both/env.py"):
        r = clients.curl_plain(srv["P"], path)
        assert r.wo("code") == ["200"], (path, r.stderr)
        env = json.loads(r.body)
        assert env.get("HTTPS") != "on", (path, env.get("HTTPS"))
        assert not ssl_keys(env), (path, sorted(ssl_keys(env)))


# -- StdEnvVars -------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_stdenvvars_location(version, srv, pki):
    env, x = env_of(srv["T"], pki, "/std/env.py", **VERSIONS[version])
    assert_std_values(env, x)
    assert "SSL_SERVER_CERT" not in env


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
@pytest.mark.parametrize("which", ["rsa2048", "p256"])
def test_stdenvvars_equal_mod_ssl(which, version, srv, pki):
    """Same certificate, protocol and suite: the documented variables equal mod_ssl's, the
    SSL_SERVER_* set is mod_ssl's (names and values)."""
    kw = dict(VERSIONS[version])
    c = ctx(pki, **kw)
    if version == "TLSv1.2":
        c.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384")
    if which == "rsa2048":
        mine_port, path, ref_port = srv["T"], "/std/env.py", srv["S"]
        mine = clients.exchange(mine_port, c, path=path)
    else:
        # V serves P-256 first (TLSv1.3 and ECDSA suites); vhost-level StdEnvVars
        mine_port, path, ref_port = srv["V"], "/cgi-bin/env.py", srv["SE"]
        mine = clients.exchange(mine_port, c, path=path)
    ref = clients.exchange(ref_port, c, path="/std/env.py")
    assert mine.cert_der == ref.cert_der, "precondition: the same certificate"
    assert (mine.version, mine.cipher) == (ref.version, ref.cipher), "precondition"
    me, them = json.loads(mine.response.body), json.loads(ref.response.body)
    assert them["SSL_VERSION_LIBRARY"].startswith("OpenSSL/"), "self-check"
    server_keys = {k for k in them if k.startswith("SSL_SERVER_") and k != "SSL_SERVER_CERT"}
    assert server_keys >= {"SSL_SERVER_S_DN", "SSL_SERVER_I_DN", "SSL_SERVER_M_SERIAL"}, \
        "self-check"
    diffs = {k: (me.get(k), them.get(k)) for k in sorted(SAME_AS_MOD_SSL | server_keys)
             if me.get(k) != them.get(k)}
    assert not diffs, "mod_tls vs mod_ssl (got, want):\n" + "\n".join(
        f"  {k}: {g!r} != {w!r}" for k, (g, w) in diffs.items())
    my_server_keys = {k for k in me if k.startswith("SSL_SERVER_") and k != "SSL_SERVER_CERT"}
    assert my_server_keys == server_keys
    if version == "TLSv1.3":
        assert me["SSL_CIPHER"] == them["SSL_CIPHER"]
    assert me["SSL_SECURE_RENEG"] == "false"


def test_inner_minus_turns_off(srv, pki):
    env, _ = env_of(srv["T"], pki, "/std/off/env.py")
    assert env.get("HTTPS") == "on"
    assert_no_std(env)
    env, x = env_of(srv["T"], pki, "/std/env.py")   # the outer scope still has them
    assert_std_values(env, x)


def test_directory_scope(srv, pki):
    env, x = env_of(srv["T"], pki, "/dir/env.py")
    assert_std_values(env, x)
    env, _ = env_of(srv["T"], pki, "/cgi-bin/env.py")
    assert_no_std(env)


def test_htaccess_allowoverride_options(srv, pki):
    env, x = env_of(srv["T"], pki, "/ht/env.py")
    assert_std_values(env, x)


def test_htaccess_needs_options_override(srv, pki):
    """With AllowOverride AuthConfig, TLSOptions in .htaccess is not allowed: 500."""
    a = srv["a"]
    mark = a.log_mark()
    x = clients.exchange(srv["T"], ctx(pki), path="/ht-noopt/env.py")
    assert x.response.status == 500
    a.wait_for_log(r"TLSOptions not allowed here", since=mark)


def test_ssi_environment(srv, pki):
    x = clients.exchange(srv["T"], ctx(pki, **TLS13), path="/ssi/page.shtml")
    assert x.response.status == 200
    proto, cn, lib, https = x.response.body.decode().strip().split("|")
    assert (proto, cn, https) == ("TLSv1.3", "localhost", "on"), x.response.body
    assert lib.startswith("rustls/"), lib


# -- ExportCertData -------------------------------------------------------------------------------

def test_export_cert_data_only(srv, pki):
    env, x = env_of(srv["T"], pki, "/export/env.py")
    assert_pem_is(env, x.cert_der)
    assert_no_std(env)


def test_both_options(srv, pki):
    env, x = env_of(srv["T"], pki, "/both/env.py")
    assert_pem_is(env, x.cert_der)
    assert_std_values(env, x)


def test_export_pem_same_as_mod_ssl(srv, pki):
    mine = clients.exchange(srv["T"], ctx(pki, **TLS13), path="/both/env.py")
    ref = clients.exchange(srv["S"], ctx(pki, **TLS13), path="/both/env.py")
    me, them = json.loads(mine.response.body), json.loads(ref.response.body)
    assert ssl.PEM_cert_to_DER_cert(them["SSL_SERVER_CERT"]) == ref.cert_der, "self-check"
    assert ssl.PEM_cert_to_DER_cert(me["SSL_SERVER_CERT"]) == \
        ssl.PEM_cert_to_DER_cert(them["SSL_SERVER_CERT"])


def test_argument_without_sign_resets_both(srv, pki):
    """Inside /both/ (StdEnvVars + ExportCertData), `TLSOptions ExportCertData` resets both
    first: the PEM, but no StdEnvVars variables."""
    env, x = env_of(srv["T"], pki, "/both/reset/env.py")
    assert_pem_is(env, x.cert_der)
    assert_no_std(env)


def test_defaults_option_turns_both_off(srv, pki):
    env, _ = env_of(srv["T"], pki, "/both/defaults/env.py")
    assert_no_std(env)
    assert "SSL_SERVER_CERT" not in env


# -- vhost level --------------------------------------------------------------------------------------

@pytest.mark.parametrize("version,kind", [("TLSv1.3", "ecdsa"), ("TLSv1.2", "rsa")])
def test_vhost_level_options_and_cert_sent(version, kind, srv, pki):
    """V: vhost-level StdEnvVars + ExportCertData; ECDSA then RSA — the variables and the PEM
    describe the certificate actually sent."""
    c = ctx(pki, **VERSIONS[version])
    if kind == "rsa":
        c.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    x = clients.exchange(srv["V"], c, path="/cgi-bin/env.py")
    assert x.response.status == 200
    assert pki_mod.key_kind(x.cert_der) == kind
    env = json.loads(x.response.body)
    assert_std_values(env, x)
    assert_pem_is(env, x.cert_der)
    assert env["SSL_SERVER_A_KEY"] == ("id-ecPublicKey" if kind == "ecdsa" else "rsaEncryption")


def test_vhost_level_location_off(srv, pki):
    env, _ = env_of(srv["V"], pki, "/off/env.py")
    assert env.get("HTTPS") == "on"
    assert_no_std(env)
    assert "SSL_SERVER_CERT" not in env
