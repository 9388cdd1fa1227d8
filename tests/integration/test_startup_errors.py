"""Configuration errors stop `apache2 -k start`: non-zero exit, nothing listening, and a
message naming the directive, the config file and line (and the offending file/value)."""
from __future__ import annotations

import re
import time

import pytest

import apache
import clients


def _vhost(port, cert_line="", extra=""):
    """A TLS port whose vhost carries the given raw TLSCertificate line."""
    lines = [f"Listen 127.0.0.1:{port}", f"TLSEngine 127.0.0.1:{port}",
             f"<VirtualHost 127.0.0.1:{port}>", "    ServerName localhost"]
    if cert_line:
        lines.append("    " + cert_line)
    if extra:
        lines.append("    " + extra)
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


def _start_fails(a: apache.Apache) -> str:
    res = a.start(check=False)
    text = res.combined
    assert res.returncode != 0, (f"apache2 -k start exited 0 (server came up: {res.came_up})"
                                 f":\n{text}")
    time.sleep(0.2)
    for p in a.ports:
        assert not apache.is_listening(p), f"port {p} is listening after a failed start"
    pid = a._read_pid()
    assert pid is None or not apache.Apache._alive(pid), "a server process is still running"
    return text


def _assert_location(text: str, a: apache.Apache, needle: str, nth: int = 1) -> int:
    line = a.line_of(needle, nth)
    assert apache.mentions_location(text, a.conf_path, line), (
        f"message does not name {a.conf_path} line {line} ({needle!r}):\n{text}")
    return line


# -- certificate and key files -----------------------------------------------------------------

def _file_cases(pki):
    good = pki.leaves["p256"]
    missing_cert = pki.dir / "does-not-exist.crt"
    missing_key = pki.dir / "does-not-exist.key"
    return {
        # name: (TLSCertificate arguments, path that must be named or None)
        "cert-missing": (f"{missing_cert} {good.key}", str(missing_cert)),
        "cert-missing-no-key": (f"{missing_cert}", str(missing_cert)),
        "key-missing": (f"{good.cert} {missing_key}", str(missing_key)),
        "key-unreadable-directory": (f"{good.cert} {pki.dir}", str(pki.dir)),
        "key-garbage": (f"{good.cert} {pki.garbage_key}", str(pki.garbage_key)),
        "key-encrypted": (f"{pki.leaves['rsa2048'].cert} {pki.encrypted_key}",
                          str(pki.encrypted_key)),
        "key-mismatch": (f"{pki.mismatch.cert} {pki.mismatch.key}", None),
        "cert-without-key-in-file": (f"{good.cert}", None),
    }


FILE_CASES = ["cert-missing", "cert-missing-no-key", "key-missing", "key-unreadable-directory",
              "key-garbage", "key-encrypted", "key-mismatch", "cert-without-key-in-file"]


@pytest.mark.parametrize("case", FILE_CASES)
@pytest.mark.parametrize("where", ["vhost", "server"])
def test_certificate_file_errors(case, where, apache_factory, pki):
    args, named_path = _file_cases(pki)[case]
    port = apache.free_port()
    if where == "vhost":
        body = _vhost(port, f"TLSCertificate {args}")
    else:
        body = f"TLSCertificate {args}\n" + _vhost(port)
    a = apache_factory(body, start=False)
    text = _start_fails(a)
    assert "TLSCertificate" in text, text
    _assert_location(text, a, f"TLSCertificate {args}")
    if named_path:
        assert named_path in text, f"{named_path} not named:\n{text}"
    if case == "key-encrypted":
        assert re.search(r"(?i)encrypt|passphrase|password", text), text
    if case == "key-mismatch":
        assert re.search(r"(?i)match", text), text


# -- a TLS address without a certificate ---------------------------------------------------------

def test_engine_address_without_certificate(apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(_vhost(port), start=False)
    text = _start_fails(a)
    assert f"127.0.0.1:{port}" in text, text
    assert "TLSCertificate" in text, text
    engine_line = a.line_of(f"TLSEngine 127.0.0.1:{port}")
    vhost_line = a.line_of(f"<VirtualHost 127.0.0.1:{port}>")
    assert (apache.mentions_location(text, a.conf_path, engine_line)
            or apache.mentions_location(text, a.conf_path, vhost_line)), (
        f"neither line {engine_line} (TLSEngine) nor {vhost_line} (VirtualHost) of "
        f"{a.conf_path} named:\n{text}")


def test_second_address_without_certificate(apache_factory, pki):
    """One TLS address is fine, the other has no certificate: still a startup error naming the
    address that lacks it."""
    good, bad = apache.free_ports(2)
    body = apache.tls_site(good, pki.leaves["p256"]) + _vhost(bad)
    a = apache_factory(body, start=False)
    text = _start_fails(a)
    assert f"127.0.0.1:{bad}" in text and "TLSCertificate" in text, text


# -- bad words -----------------------------------------------------------------------------------

WORD_CASES = [
    ("TLSProtocol", "TLSv9+"),
    ("TLSProtocol", "bogus"),
    ("TLSProtocol", "TLSv1.4+"),
    ("TLSProtocol", "TLSv0x0305+"),
    ("TLSProtocol", "TLSv1.3"),          # typo: the '+' is missing
    ("TLSHonorClientOrder", "onn"),
    ("TLSStrictSNI", "yes"),
]


@pytest.mark.parametrize("directive,value", WORD_CASES, ids=[f"{d}-{v}" for d, v in WORD_CASES])
def test_bad_word(directive, value, apache_factory, pki):
    port = apache.free_port()
    cred = pki.leaves["p256"]
    a = apache_factory(_vhost(port, f"TLSCertificate {cred.cert} {cred.key}",
                              extra=f"{directive} {value}"), start=False)
    text = _start_fails(a)
    assert directive in text, text
    assert value in text, text
    _assert_location(text, a, f"{directive} {value}")


def test_typo_in_server_context(apache_factory, pki):
    """The same error at server level, after other valid lines: the right line is named."""
    port = apache.free_port()
    cred = pki.leaves["p256"]
    body = ("TLSProtocol TLSv1.2+\n" + "# filler\n" * 7 + "TLSProtocol bogus\n"
            + _vhost(port, f"TLSCertificate {cred.cert} {cred.key}"))
    a = apache_factory(body, start=False)
    text = _start_fails(a)
    line = _assert_location(text, a, "TLSProtocol bogus")
    assert not apache.mentions_location(text, a.conf_path, a.line_of("TLSProtocol TLSv1.2+")), (
        f"a valid line {a.line_of('TLSProtocol TLSv1.2+')} was blamed instead of {line}:\n{text}")


# -- warnings: the server starts, the log says what to fix ---------------------------------------

def test_protocol_below_tls12_warns_and_serves_tls12(apache_factory, pki):
    port = apache.free_port()
    cred = pki.leaves["p256"]
    a = apache_factory(apache.tls_site(port, cred, protocol="TLSv1.0+"), start=False)
    res = a.start()
    line = a.line_of("TLSProtocol TLSv1.0+")
    warn = [l for l in res.combined.splitlines() if "[tls:warn]" in l and "below TLS 1.2" in l]
    assert len(warn) == 1, res.combined
    assert apache.mentions_location(warn[0], a.conf_path, line), warn[0]
    assert "New, TLSv1.2" in clients.s_client(port, ["-tls1_2"]).stdout
    # apache2 -t (no post_config there) shows it too, once
    t = a.config_test()
    out = t.stdout + t.stderr
    assert t.returncode == 0 and "Syntax OK" in out, out
    assert len([l for l in out.splitlines() if "below TLS 1.2" in l]) == 1, out


def test_engine_without_listen_warns(apache_factory, pki):
    port, unused = apache.free_ports(2)
    cred = pki.leaves["p256"]
    a = apache_factory(apache.tls_site(port, cred) + f"TLSEngine 127.0.0.1:{unused}\n",
                       start=False)
    res = a.start()
    line = a.line_of(f"TLSEngine 127.0.0.1:{unused}")
    warn = [l for l in res.combined.splitlines()
            if "[tls:warn]" in l and f"TLSEngine 127.0.0.1:{unused}" in l]
    assert len(warn) == 1, res.combined
    assert "add 'Listen 127.0.0.1:" in warn[0], warn[0]
    assert apache.mentions_location(warn[0], a.conf_path, line), warn[0]
    # the address that has a Listen is served
    assert "New, TLSv1.3" in clients.s_client(port, ["-tls1_3"]).stdout
