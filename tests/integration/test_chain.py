"""The configured certificate chain is presented as configured."""
from __future__ import annotations

import re

import apache
import clients
from pki import INTERMEDIATE_CN, ROOT_CN


def _chain_subjects(out: str) -> list[tuple[str, str]]:
    """(subject, issuer) of each certificate in s_client's 'Certificate chain' section, spelled
    as OpenSSL 3.0 prints names ("C = DE, CN = x"; OpenSSL 3.5 prints "C=DE, CN=x")."""
    spaced = lambda name: re.sub(r"(?<! )=(?! )", " = ", name)  # noqa: E731
    return [(spaced(s), spaced(i))
            for s, i in re.findall(r"^\s*\d+ s:(.*)\n\s+i:(.*)$", out, re.M)]


def test_intermediate_chain_presented(apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.chain))
    a.add_file("index.html", b"chain\n")
    for ver in ("-tls1_2", "-tls1_3"):
        p = clients.s_client(port, ["-showcerts", ver], cafile=pki.root_ca)
        out = p.stdout
        assert p.returncode == 0, out
        assert out.count("-----BEGIN CERTIFICATE-----") == 2, out
        subj = _chain_subjects(out)
        assert len(subj) == 2, out
        assert subj[0][0].endswith("CN = localhost"), subj
        assert subj[0][1].endswith(f"CN = {INTERMEDIATE_CN}"), subj
        assert subj[1][0].endswith(f"CN = {INTERMEDIATE_CN}"), subj
        assert subj[1][1].endswith(f"CN = {ROOT_CN}"), subj
        assert "Verify return code: 0 (ok)" in out, out
    # curl trusting only the root verifies through the presented intermediate
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 0, r.stderr
    assert r.wo("verify") == ["0"] and r.body == b"chain\n"


def test_single_certificate_presented_alone(apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.leaves["rsa2048"]))
    a.add_file("index.html", b"one\n")
    p = clients.s_client(port, ["-showcerts"], cafile=pki.root_ca)
    assert p.stdout.count("-----BEGIN CERTIFICATE-----") == 1, p.stdout
    subj = _chain_subjects(p.stdout)
    assert len(subj) == 1 and subj[0][1].endswith(f"CN = {ROOT_CN}"), p.stdout


def test_leaf_without_its_chain_does_not_verify(apache_factory, pki):
    """Control for the chain test: the same leaf without the intermediate does not verify
    against the root alone, so the chain test above really depends on the presented chain."""
    port = apache.free_port()
    leaf_only = pki.dir / "chain-leaf-only.crt"
    a = apache_factory(apache.tls_site(port, (leaf_only, pki.chain.key)))
    a.add_file("index.html", b"x\n")
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 60, r.stderr
    assert r.wo("verify") == ["20"], r.stderr   # unable to get local issuer certificate


def test_cert_and_key_in_one_file(apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.combined))
    a.add_file("index.html", b"combined\n")
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == b"combined\n", r.stderr
    assert r.wo("verify") == ["0"]
