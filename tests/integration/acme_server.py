"""pebble (Let's Encrypt's test ACME server, Debian package) on loopback for the mod_md tests.

Pebble(workdir, api_cert, api_key, http_port, tls_port) starts pebble-challtestsrv as the DNS
server (every name resolves to 127.0.0.1, no AAAA) and pebble validating challenges on the
given Apache ports; directory_url is what MDCertificateAuthority needs, and MDCACertificateFile
must name the CA of api_cert. stop() ends both processes (only those it started).
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import apache as apache_mod


class Pebble:
    def __init__(self, workdir: Path, api_cert: Path, api_key: Path, *, http_port: int,
                 tls_port: int, timeout: float = 20.0):
        self.dir = Path(workdir)
        self.procs: list[subprocess.Popen] = []
        api_port, mgmt_port, dns_port, ct_mgmt_port = apache_mod.free_ports(4)
        self.directory_url = f"https://127.0.0.1:{api_port}/dir"
        self.mgmt_port = mgmt_port
        cfg = {"pebble": {
            "listenAddress": f"127.0.0.1:{api_port}",
            "managementListenAddress": f"127.0.0.1:{mgmt_port}",
            "certificate": str(api_cert), "privateKey": str(api_key),
            "httpPort": http_port, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        conf = self.dir / "pebble-config.json"
        conf.write_text(json.dumps(cfg))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0",
                   PEBBLE_AUTHZREUSE="0")
        try:
            self._start(["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                         "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
                         "-tlsalpn01", "", "-management",
                         f"127.0.0.1:{ct_mgmt_port}"], "challtestsrv", env, ct_mgmt_port,
                        timeout)
            self._start(["pebble", "-config", str(conf), "-dnsserver", f"127.0.0.1:{dns_port}"],
                        "pebble", env, api_port, timeout)
        except Exception:
            self.stop()
            raise

    def _start(self, cmd, name, env, port, timeout):
        log = open(self.dir / f"{name}.log", "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=self.dir)
        self.procs.append(proc)
        deadline = time.monotonic() + timeout
        while not apache_mod.is_listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not come up on port {port}: "
                                   f"{(self.dir / f'{name}.log').read_text(errors='replace')}")
            time.sleep(0.05)

    def log(self) -> str:
        return (self.dir / "pebble.log").read_text(errors="replace")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        self.procs.clear()
