"""memcached and redis-server for session cache tests: started on free loopback ports chosen at
run time, stopped by PID (never by name: other tests on the machine run their own)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

import apache


class CacheServer:
    """One memcached or redis-server process; `kind` is "memcache" or "redis" (the socache
    provider name), `spec` the TLSSessionCache argument."""

    def __init__(self, kind: str, port: int | None = None):
        self.kind = kind
        self.port = port or apache.free_port()
        self.proc: subprocess.Popen | None = None
        self.dir = tempfile.mkdtemp(prefix="modtls-cache-")

    @property
    def spec(self) -> str:
        return f"{self.kind}:127.0.0.1:{self.port}"

    @property
    def module(self) -> str:
        return "socache_memcache" if self.kind == "memcache" else "socache_redis"

    def command(self) -> list[str]:
        if self.kind == "memcache":
            return ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
                    "-u", "nobody", "-m", "16"]
        return ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--protected-mode", "no", "--dir", self.dir,
                "--daemonize", "no"]

    def start(self, timeout: float = 15.0) -> "CacheServer":
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not apache.is_listening(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command()} exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} did not listen on {self.port} in {timeout}s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
