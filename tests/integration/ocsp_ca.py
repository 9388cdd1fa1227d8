"""A small CA with a real OCSP responder (`openssl ocsp`) for the stapling tests.

OcspCA(dir) makes a CA; leaf(name, ocsp_port, revoked=...) issues a certificate whose AIA
names http://127.0.0.1:<ocsp_port> as its OCSP responder and records it (valid or revoked) in
the CA's index.txt; responder(port) starts `openssl ocsp` on that index (stop it with
stop_responder(), which the fixtures call). Files are 0644 in a 0755 directory.
"""
from __future__ import annotations

import datetime
import os
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

import apache as apache_mod


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mod_tls OCSP tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.chmod(path, 0o644)
    return path


class OcspCA:
    def __init__(self, directory: Path | None = None):
        self.dir = Path(directory or tempfile.mkdtemp(prefix="modtls-ocsp-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder().subject_name(_name("mod_tls OCSP Test CA"))
            .issuer_name(_name("mod_tls OCSP Test CA")).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256()))
        self.ca_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.ca_file = _write(self.dir / "ca.crt", self.ca_pem)
        self.ca_key_file = _write(self.dir / "ca.key", self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.index = _write(self.dir / "index.txt", b"")
        self._procs: list[subprocess.Popen] = []

    def leaf(self, stem: str, dns: str, ocsp_port: int, *, revoked: bool = False,
             with_issuer: bool = True):
        """(cert_file, key_file): cert_file holds the leaf and (with_issuer) the CA."""
        now = datetime.datetime.now(datetime.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        not_after = now + datetime.timedelta(days=90)
        cert = (
            x509.CertificateBuilder().subject_name(_name(dns)).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(f"http://127.0.0.1:{ocsp_port}"))]),
                critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256()))
        # index.txt as `openssl ca` writes it: status, expiry, revocation time, serial, file, DN
        exp = not_after.strftime("%y%m%d%H%M%SZ")
        rev = (now - datetime.timedelta(hours=1)).strftime("%y%m%d%H%M%SZ") if revoked else ""
        hexserial = f"{serial:X}"
        if len(hexserial) % 2:
            hexserial = "0" + hexserial
        dn = f"/O=mod_tls OCSP tests/CN={dns}"
        with open(self.index, "a") as f:
            f.write(f"{'R' if revoked else 'V'}\t{exp}\t{rev}\t{hexserial}\tunknown\t{dn}\n")
        pem = cert.public_bytes(serialization.Encoding.PEM)
        cert_file = _write(self.dir / f"{stem}.crt", pem + (self.ca_pem if with_issuer else b""))
        key_file = _write(self.dir / f"{stem}.key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return cert_file, key_file

    def responder(self, port: int, timeout: float = 10.0) -> subprocess.Popen:
        """`openssl ocsp` answering for this CA on 127.0.0.1:port (signed by the CA itself)."""
        proc = subprocess.Popen(
            ["openssl", "ocsp", "-index", str(self.index), "-port", str(port),
             "-CA", str(self.ca_file), "-rsigner", str(self.ca_file), "-rkey",
             str(self.ca_key_file), "-ignore_err"],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / f"ocsp-{port}.log", "wb"))
        self._procs.append(proc)
        deadline = time.monotonic() + timeout
        while not apache_mod.is_listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"openssl ocsp did not come up on port {port}: "
                                   f"{(self.dir / f'ocsp-{port}.log').read_text()}")
            time.sleep(0.05)
        return proc

    def stop(self) -> None:
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        self._procs.clear()
