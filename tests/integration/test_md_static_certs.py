"""Certificates that mod_md supplies from files (MDCertificateFile / MDCertificateKeyFile), no
ACME server (issue 21, item 2).

Several <MDomain> blocks, one name-based <VirtualHost> each on one TLSEngine address, none with
a TLSCertificate or any other mod_tls directive: the SNI picks the host, and every host serves
the certificates mod_md has for it (ECDSA or RSA as the client can use them) and its own pages.
"""
from __future__ import annotations

import re
import ssl

import pytest

import apache
import clients
import pki as pki_mod

NAMES = ("a.md.test", "b.md.test", "c.md.test")


def page(name: str) -> bytes:
    return f"site {name}\n".encode()


def credentials(pki, name: str, layout: str) -> list[tuple[str, str]]:
    """(MDCertificateFile, MDCertificateKeyFile) pairs of one domain.

    layout: "rsa" (certificate and key files), "ecdsa-combined" (one PEM file with the
    certificate and its key, named as both), "ecdsa+rsa" (both of these)."""
    stem = name.split(".")[0]
    pairs = []
    if layout in ("ecdsa-combined", "ecdsa+rsa"):
        ec = pki_mod.issue_leaf(pki, f"md-{stem}-p256", [name], kind="p256")
        combined = pki.dir / f"md-{stem}-p256-combined.pem"
        combined.write_bytes(ec.cert.read_bytes() + ec.key.read_bytes())
        combined.chmod(0o644)
        pairs.append((str(combined), str(combined)))
    if layout in ("rsa", "ecdsa+rsa"):
        rsa = pki_mod.issue_leaf(pki, f"md-{stem}-rsa", [name], kind="rsa2048")
        pairs.append((str(rsa.cert), str(rsa.key)))
    return pairs


def md_config(port: int, domains: list[tuple[str, list[tuple[str, str]]]],
              vhost_order: list[str]) -> str:
    """MDomain blocks in the order of `domains`, virtual hosts in `vhost_order`."""
    body = "MDStoreDir md\nMDCertificateAgreement accepted\n" + apache.tls_address(port)
    for name, pairs in domains:
        body += f"<MDomain {name}>\n"
        for cert, key in pairs:
            body += f"    MDCertificateFile {cert}\n    MDCertificateKeyFile {key}\n"
        body += "</MDomain>\n"
    for name in vhost_order:
        body += apache.name_vhost(port, name, docroot=f"htdocs/{name}")
    return body


def start(apache_factory, port, domains, vhost_order):
    a = apache_factory(md_config(port, domains, vhost_order), start=False,
                       extra_modules=("md",), log_level="info tls:debug")
    for name, _ in domains:
        a.add_file(f"{name}/index.html", page(name))
    a.start()
    return a


def verified_get(pki, port: int, name: str, ciphers: str | None = None):
    """GET / with SNI and Host `name`, verifying chain and name; TLS 1.2 with `ciphers`."""
    ctx = clients.context(pki.root_ca)
    if ciphers:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(ciphers)
    return clients.sni_get(port, ctx, name)


def assert_served_by(a, r, pki, name: str) -> None:
    assert r.status == 200, (r.status, r.body)
    assert r.body == page(name), r.body
    assert pki_mod.subject_cn(r.cert_der) == name
    # the host chosen for the handshake is the one the SNI names
    assert re.search(rf"SNI {re.escape(name)}, host {re.escape(name)}\b", a.error_log()), \
        a.error_log()


SECOND_LAYOUTS = ["rsa", "ecdsa-combined", "ecdsa+rsa"]


@pytest.mark.parametrize("first_mdomain", ["a", "b"])
@pytest.mark.parametrize("layout", SECOND_LAYOUTS)
def test_each_domain_served_with_its_own_certificate(layout, first_mdomain, apache_factory, pki):
    port = apache.free_port()
    domains = [("a.md.test", credentials(pki, "a.md.test", "ecdsa-combined")),
               ("b.md.test", credentials(pki, "b.md.test", layout))]
    if first_mdomain == "b":
        domains.reverse()
    a = start(apache_factory, port, domains, ["a.md.test", "b.md.test"])
    for name in ("a.md.test", "b.md.test"):
        assert_served_by(a, verified_get(pki, port, name), pki, name)


def test_key_type_follows_what_the_client_supports(apache_factory, pki):
    """A domain with an ECDSA and an RSA certificate: a client that can only use RSA gets the
    RSA one, a client that can only use ECDSA the ECDSA one — on the second host as on the first."""
    port = apache.free_port()
    domains = [(n, credentials(pki, n, "ecdsa+rsa")) for n in ("a.md.test", "b.md.test")]
    a = start(apache_factory, port, domains, ["a.md.test", "b.md.test"])
    for name in ("a.md.test", "b.md.test"):
        for ciphers, kind in (("ECDHE-RSA-AES128-GCM-SHA256", "rsa"),
                              ("ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa")):
            r = verified_get(pki, port, name, ciphers)
            assert_served_by(a, r, pki, name)
            assert pki_mod.key_kind(r.cert_der) == kind, (name, ciphers)


def test_three_domains_in_any_order(apache_factory, pki):
    port = apache.free_port()
    domains = [(n, credentials(pki, n, lay))
               for n, lay in zip(NAMES, ("rsa", "ecdsa-combined", "ecdsa+rsa"))]
    a = start(apache_factory, port, domains, ["b.md.test", "c.md.test", "a.md.test"])
    for name in ("c.md.test", "a.md.test", "b.md.test"):
        assert_served_by(a, verified_get(pki, port, name), pki, name)
