"""Start and stop real /usr/sbin/apache2 processes for the integration tests.

Every server gets its own ServerRoot made with tempfile.mkdtemp(prefix="modtls-") under /tmp,
mode 0755, because the workers run as www-data and pytest's tmp_path (/tmp/pytest-of-root, 0700)
or the checkout (possibly 0700) are not reachable for them.

The config body a test hands in is appended to a fixed base configuration (modules, logs, pid
file, DocumentRoot <root>/htdocs, ScriptAlias /cgi-bin/ <root>/cgi-bin/). Use tls_site() and
plain_site() to write the per-port parts so that the mod_tls directives live in one place.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

APACHE2 = "/usr/sbin/apache2"
MODULES_DIR = "/usr/lib/apache2/modules"
REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# Lines that mean a child process crashed (the parent logs them at notice/error level), or that
# a sanitizer found something but could not write its report.
CRASH_PATTERNS = ("exit signal", "Segmentation fault", "AddressSanitizer", "runtime error:",
                  "ERROR: Can't open file")


def mod_tls_so() -> str:
    """Absolute path of the module under test (env MOD_TLS_SO, default <repo>/build/mod_tls.so)."""
    return os.path.abspath(os.environ.get("MOD_TLS_SO") or REPO_ROOT / "build" / "mod_tls.so")


def require_module() -> None:
    """Fail (not skip) the test when the module under test has not been built."""
    so = mod_tls_so()
    if not os.path.isfile(so):
        import pytest
        pytest.fail(f"module under test not found: {so} (build it with `make`, or set "
                    f"MOD_TLS_SO)", pytrace=False)


def sanitizer_mode() -> bool:
    return os.environ.get("MOD_TLS_SANITIZER") == "1"


def libasan_path() -> str:
    out = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                         text=True, check=True).stdout.strip()
    if not os.path.isabs(out) or not os.path.exists(out):
        raise RuntimeError(f"libasan.so not found (gcc said {out!r})")
    return os.path.realpath(out)


# ---------------------------------------------------------------------------------------------
# ports

def free_ports(n: int = 1) -> list[int]:
    """n distinct free loopback ports (all bound at once, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


# ::1 as /proc/net/tcp6 writes it (so that a `Listen [::1]:port` server counts as up)
IPV6_LOOPBACK_HEX = "00000000000000000000000001000000"


def ipv6_loopback_available() -> bool:
    """Can we bind ::1 (IPv6 enabled on lo)?"""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def is_listening(port: int) -> bool:
    """True if some socket listens on 127.0.0.1:port or *:port — without connecting to it
    (a probe connection would be a 'bad client' to the TLS module and pollute its log)."""
    want = f"{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state = parts[1], parts[3]
                    addr, p = local.rsplit(":", 1)
                    if p == want and state == "0A":
                        if set(addr) <= {"0"} or addr in ("0100007F",
                                                         "0000000000000000FFFF00000100007F",
                                                         IPV6_LOOPBACK_HEX):
                            return True
        except FileNotFoundError:
            continue
    return False


# ---------------------------------------------------------------------------------------------
# configuration snippets

def module_directives() -> str:
    """The line(s) that load the TLS module under test."""
    return f"LoadModule tls_module {mod_tls_so()}"


def tls_site(port: int, certs, *, protocol: str | None = None, server_name: str = "localhost",
             extra: str = "", engine: bool = True, listen: bool = True) -> str:
    """A TLS port: Listen + TLSEngine + a <VirtualHost> with its certificates.

    certs: a pki.Credential, a (cert, key) tuple, or a list of them; key None means the key is
    in the certificate file.
    """
    if not isinstance(certs, (list, tuple)) or (len(certs) == 2 and not hasattr(certs[0], "cert")
                                                and not isinstance(certs[0], (list, tuple))):
        certs = [certs]
    lines = []
    if listen:
        lines.append(f"Listen 127.0.0.1:{port}")
    if engine:
        lines.append(f"TLSEngine 127.0.0.1:{port}")
    lines.append(f"<VirtualHost 127.0.0.1:{port}>")
    lines.append(f"    ServerName {server_name}")
    for c in certs:
        cert, key = (c.cert, c.key) if hasattr(c, "cert") else c
        lines.append(f"    TLSCertificate {cert}" + (f" {key}" if key else ""))
    if protocol is not None:
        lines.append(f"    TLSProtocol {protocol}")
    if extra:
        lines.extend("    " + l for l in extra.strip("\n").splitlines())
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


def tls_address(port: int, addr: str = "127.0.0.1", engine: str | None = None) -> str:
    """Listen addr:port + TLSEngine (engine, default the same address) — no virtual host."""
    a = f"[{addr}]" if ":" in addr else addr
    return f"Listen {a}:{port}\nTLSEngine {engine or f'{a}:{port}'}\n"


def name_vhost(port: int, server_name: str, certs=(), *, aliases=(), docroot: str | None = None,
               addr: str = "127.0.0.1", extra: str = "") -> str:
    """A name-based <VirtualHost addr:port> (no Listen / TLSEngine: see tls_address()).

    certs as for tls_site() (may be empty: no TLSCertificate line); docroot relative to the
    ServerRoot, e.g. "htdocs/a.test" (files: Apache.add_file("a.test/..."))."""
    if certs and (not isinstance(certs, (list, tuple)) or (
            len(certs) == 2 and not hasattr(certs[0], "cert")
            and not isinstance(certs[0], (list, tuple)))):
        certs = [certs]
    a = f"[{addr}]" if ":" in addr else addr
    lines = [f"<VirtualHost {a}:{port}>", f"    ServerName {server_name}"]
    if aliases:
        lines.append("    ServerAlias " + " ".join(aliases))
    if docroot:
        lines.append(f"    DocumentRoot {docroot}")
    for c in certs or ():
        cert, key = (c.cert, c.key) if hasattr(c, "cert") else c
        lines.append(f"    TLSCertificate {cert}" + (f" {key}" if key else ""))
    if extra:
        lines.extend("    " + l for l in extra.strip("\n").splitlines())
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


def plain_site(port: int, server_name: str = "localhost", extra: str = "") -> str:
    """A plain HTTP port on the same server."""
    lines = [f"Listen 127.0.0.1:{port}", f"<VirtualHost 127.0.0.1:{port}>",
             f"    ServerName {server_name}"]
    if extra:
        lines.extend("    " + l for l in extra.strip("\n").splitlines())
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


# socache_shmcb: mod_tls's default TLSSessionCache (sessions shared by all worker processes).
BASE_MODULES = ("mpm_event", "authz_core", "authz_host", "mime", "dir", "log_config", "unixd",
                "alias", "cgid", "socache_shmcb")

BASE_TEMPLATE = """\
# generated by tests/integration/apache.py
ServerRoot "{root}"
DefaultRuntimeDir "{root}/run"
PidFile "{root}/run/httpd.pid"
ErrorLog "{root}/logs/error.log"
LogLevel {log_level}
{load_modules}
{tls_module}
User www-data
Group www-data
ServerName localhost
TypesConfig /etc/mime.types
LogFormat "%h %{{remote}}p %k \\"%r\\" %>s %b" modtls
CustomLog "{root}/logs/access.log" modtls
KeepAlive On
MaxKeepAliveRequests 1000
KeepAliveTimeout {keepalive_timeout}
Timeout 30
StartServers 1
ServerLimit 4
MaxRequestWorkers 100
<IfModule !mpm_prefork_module>
    ThreadsPerChild 25
    MinSpareThreads 5
    MaxSpareThreads 100
</IfModule>
ScriptSock "{root}/run/cgisock"
DocumentRoot "{root}/htdocs"
DirectoryIndex index.html
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{root}/htdocs">
    Options None
    Require all granted
</Directory>
ScriptAlias /cgi-bin/ "{root}/cgi-bin/"
<Directory "{root}/cgi-bin">
    Options +ExecCGI
    Require all granted
</Directory>
"""


@dataclass
class StartResult:
    returncode: int    # exit status of `apache2 -k start` itself
    output: str        # stdout + stderr of `apache2 -k start`
    error_log: str     # content of the error log after the attempt
    came_up: bool = False   # pid file written and every Listen port listening

    @property
    def combined(self) -> str:
        return self.output + "\n" + self.error_log


class ApacheError(RuntimeError):
    pass


class Apache:
    """One apache2 instance with a private ServerRoot.

    a = Apache(body); a.start(); ...; a.stop()      (or use it as a context manager, or via the
    `apache_factory` fixture which always stops it).
    """

    def __init__(self, body: str = "", *, log_level: str = "info", tls_module: bool = True,
                 extra_modules=(), keepalive_timeout: int = 5, name: str = "httpd",
                 mpm: str = "event"):
        self.root = Path(tempfile.mkdtemp(prefix="modtls-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        for sub in ("conf", "logs", "run", "htdocs", "cgi-bin"):
            (self.root / sub).mkdir()
            os.chmod(self.root / sub, 0o755)
        # Sanitizer reports: written by the worker processes too, which run as www-data.
        self.sanitizer_dir = self.root / "sanitizer"
        self.sanitizer_dir.mkdir()
        os.chmod(self.sanitizer_dir, 0o777)
        self.docroot = self.root / "htdocs"
        self.cgi_dir = self.root / "cgi-bin"
        self.conf_path = self.root / "conf" / f"{name}.conf"
        self.pid_file = self.root / "run" / "httpd.pid"
        self.error_log_path = self.root / "logs" / "error.log"
        self.access_log_path = self.root / "logs" / "access.log"
        self.log_level = log_level
        self.tls_module = tls_module
        self.extra_modules = tuple(extra_modules)
        self.mpm = mpm   # event (can hold a waiting handshake without a thread), worker, prefork
        self.keepalive_timeout = keepalive_timeout
        self.started = False
        self.pid: int | None = None
        self.body = body
        self.write_config(body)

    # -- configuration -------------------------------------------------------------------------
    def write_config(self, body: str) -> None:
        self.body = body
        # <IfModule !...>: some (log_config, unixd...) may be compiled into the binary
        mods = [f"<IfModule !{m}_module>\n    LoadModule {m}_module {MODULES_DIR}/mod_{m}.so\n"
                f"</IfModule>" for m in BASE_MODULES + self.extra_modules]
        mods = [m.replace("mpm_event", f"mpm_{self.mpm}") for m in mods]
        text = BASE_TEMPLATE.format(
            root=self.root, log_level=self.log_level, load_modules="\n".join(mods),
            tls_module=module_directives() if self.tls_module else "",
            keepalive_timeout=self.keepalive_timeout)
        text += "\n# ---- test body ----\n" + body
        self.conf_path.write_text(text)
        os.chmod(self.conf_path, 0o644)

    @property
    def config_text(self) -> str:
        return self.conf_path.read_text()

    def line_of(self, needle: str, nth: int = 1) -> int:
        """1-based line number in the generated config of the nth line containing needle."""
        seen = 0
        for i, line in enumerate(self.config_text.splitlines(), start=1):
            if needle in line:
                seen += 1
                if seen == nth:
                    return i
        raise ValueError(f"{needle!r} (#{nth}) not in {self.conf_path}")

    @property
    def ports(self) -> list[int]:
        ports = []
        for m in re.finditer(r"^\s*Listen\s+(?:\[[^\]]*\]:|[\d.]+:|\*:)?(\d+)", self.config_text,
                             re.M):
            ports.append(int(m.group(1)))
        return ports

    # -- files ---------------------------------------------------------------------------------
    def add_file(self, rel: str, data: bytes) -> Path:
        p = self.docroot / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(p.parent, 0o755)
        p.write_bytes(data)
        os.chmod(p, 0o644)
        return p

    def add_cgi(self, name: str, script: str) -> Path:
        p = self.cgi_dir / name
        p.write_text(script)
        os.chmod(p, 0o755)
        return p

    # -- logs ----------------------------------------------------------------------------------
    def log_file_mark(self, name: str) -> int:
        """Current size of logs/<name> (e.g. a CustomLog); pass to log_file(name, since=...).

        Take it right before a connection whose line is looked up by client port: the kernel
        reuses a client port (for another server port at once, for the same one once the old
        connection is gone), so an older line of the file can carry the same port."""
        try:
            return (self.root / "logs" / name).stat().st_size
        except FileNotFoundError:
            return 0

    def log_file(self, name: str, since: int = 0) -> str:
        """logs/<name> from byte offset `since` on ('' while it does not exist)."""
        try:
            with open(self.root / "logs" / name, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def error_log(self, since: int = 0) -> str:
        return self.log_file(self.error_log_path.name, since)

    def log_mark(self) -> int:
        """Current size of the error log; pass to error_log(since=...)/wait_for_log(since=...)."""
        return self.log_file_mark(self.error_log_path.name)

    def access_log(self) -> str:
        try:
            return self.access_log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 5.0, since: int = 0,
                     regex: bool = True) -> str:
        """Wait until a line of the error log (after offset `since`) matches; return that line."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern if regex else re.escape(pattern))
        while True:
            for line in self.error_log(since).splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no error-log line matching {pattern!r} within {timeout}s; "
                                     f"log since mark:\n{self.error_log(since)}")
            time.sleep(0.05)

    def crash_lines(self) -> list[str]:
        return [l for l in self.error_log().splitlines() if any(p in l for p in CRASH_PATTERNS)]

    # -- process control -----------------------------------------------------------------------
    def _env(self) -> dict:
        env = dict(os.environ)
        env["MOD_TLS_SO"] = mod_tls_so()
        env.setdefault("LANG", "C")
        if sanitizer_mode():
            env["LD_PRELOAD"] = libasan_path()
            env["ASAN_OPTIONS"] = (f"detect_leaks=0:log_path={self.sanitizer_dir}/asan:"
                                   "abort_on_error=0:halt_on_error=1")
            env["UBSAN_OPTIONS"] = (f"print_stacktrace=1:halt_on_error=1:"
                                    f"log_path={self.sanitizer_dir}/ubsan")
        return env

    def config_test(self) -> subprocess.CompletedProcess:
        """`apache2 -t` on this configuration (with the sanitizer runtime where the suite uses it)."""
        return subprocess.run([APACHE2, "-t", "-f", str(self.conf_path)], capture_output=True,
                              text=True, env=self._env(), timeout=60)

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie (reparented, never reaped) counts as dead
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, IndexError):
            return False

    def start(self, check: bool = True, timeout: float = START_TIMEOUT) -> StartResult:
        """Run `apache2 -f <conf> -k start` and wait until every Listen port listens.

        check=True: raise ApacheError (with output and error log) if that fails.
        check=False: return StartResult for tests that expect a startup failure.
        """
        busy = [p for p in self.ports if is_listening(p)]
        if busy:
            raise ApacheError(f"ports already in use before start: {busy}")
        self.started = True   # from here on, stop() must clean up whatever came up
        proc = subprocess.run([APACHE2, "-f", str(self.conf_path), "-k", "start"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=self._env(), timeout=60)
        output = proc.stdout.decode("utf-8", "replace")
        if proc.returncode != 0:
            time.sleep(0.1)
            res = StartResult(proc.returncode, output, self.error_log())
            if check:
                raise ApacheError(f"apache2 -k start failed (rc={proc.returncode}):\n{output}\n"
                                  f"--- error log ---\n{res.error_log}")
            return res
        deadline = time.monotonic() + timeout
        ok = False
        while time.monotonic() < deadline:
            pid = self._read_pid()
            if pid and all(is_listening(p) for p in self.ports):
                self.pid = pid
                ok = True
                break
            if pid and not self._alive(pid):
                break
            time.sleep(0.05)
        res = StartResult(proc.returncode, output, self.error_log(), came_up=ok)
        if not ok and check:
            raise ApacheError(f"apache2 did not come up on ports {self.ports} within {timeout}s "
                              f"(pid file {self.pid_file}: {self._read_pid()}):\n{output}\n"
                              f"--- error log ---\n{res.error_log}")
        return res

    def stop(self) -> None:
        """Stop the server (if it was started) and wait for the parent to exit; then fail if a
        sanitizer report or a crash line was produced."""
        if not self.started:
            return
        self.started = False
        pid = self._read_pid() or self.pid
        if pid and self._alive(pid):
            # With the sanitizer build, `-k stop` loads the module too: without the runtime
            # preloaded it dies at once and the server would only be killed below.
            subprocess.run([APACHE2, "-f", str(self.conf_path), "-k", "stop"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=self._env(), timeout=30)
            deadline = time.monotonic() + STOP_TIMEOUT
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._alive(pid):
                # last resort: the whole process group (apache's parent is a session leader)
                for target in (-pid, pid):
                    try:
                        os.kill(target, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                time.sleep(0.2)
        self.check_reports()

    def graceful(self, timeout: float = 30.0) -> None:
        """`apache2 -k graceful` (re-reads the configuration and certificates; old children
        finish their connections) and wait until the parent logs that it resumed."""
        marker = "resuming normal operations"
        before = self.error_log().count(marker)
        proc = subprocess.run([APACHE2, "-f", str(self.conf_path), "-k", "graceful"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=self._env(), timeout=60)
        if proc.returncode != 0:
            raise ApacheError(f"apache2 -k graceful failed: {proc.stdout.decode(errors='replace')}")
        deadline = time.monotonic() + timeout
        while self.error_log().count(marker) <= before:
            if time.monotonic() > deadline:
                raise ApacheError(f"no '{marker}' within {timeout}s after graceful:\n"
                                  f"{self.error_log()[-3000:]}")
            time.sleep(0.05)

    def sanitizer_reports(self) -> dict[str, str]:
        reports = {}
        for p in (sorted(self.sanitizer_dir.glob("asan.*"))
                  + sorted(self.sanitizer_dir.glob("ubsan.*"))):
            reports[p.name] = p.read_text(errors="replace")
        return reports

    def check_reports(self) -> None:
        """Fail on sanitizer report files and on child crashes logged by the parent."""
        reports = self.sanitizer_reports()
        if reports:
            text = "\n".join(f"===== {n} =====\n{t}" for n, t in reports.items())
            raise AssertionError(f"sanitizer reports in {self.root}:\n{text}")
        crashes = self.crash_lines()
        if crashes:
            raise AssertionError(f"crashes in {self.error_log_path}:\n" + "\n".join(crashes))

    def cleanup(self) -> None:
        """Remove the ServerRoot (only after the server is stopped)."""
        if not self.started:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class ApachePool:
    """Makes Apache instances and stops every one of them at the end, collecting failures."""

    def __init__(self, keep_roots: bool = False):
        self.servers: list[Apache] = []
        self.keep_roots = keep_roots

    def __call__(self, body: str = "", *, start: bool = True, **kw) -> Apache:
        a = Apache(body, **kw)
        self.servers.append(a)
        if start:
            a.start()
        return a

    def close(self) -> None:
        errors = []
        for a in self.servers:
            try:
                a.stop()
            except Exception as e:  # noqa: BLE001 - report every server's problem
                errors.append(f"{a.root}: {e}")
        if not errors and not self.keep_roots:
            for a in self.servers:
                a.cleanup()
        self.servers.clear()
        if errors:
            raise AssertionError("while stopping apache:\n" + "\n".join(errors))


# ---------------------------------------------------------------------------------------------
# assertions on startup messages

def mentions_location(text: str, conf_path, line: int) -> bool:
    """Does text name config file conf_path and line number `line` together, in one of the
    common spellings ('line N of PATH', 'PATH:N', 'PATH line N', 'PATH(N)', 'PATH, line N')?"""
    p = re.escape(str(conf_path))
    n = str(line)
    pats = [
        rf"line\s+{n}\s+(?:of|in)\s+(?:file\s+)?['\"]?{p}",
        rf"{p}['\"]?\s*(?::|\(|,\s*line\s*|\s+line\s+|\s+at\s+line\s+)\s*{n}\b",
    ]
    return any(re.search(x, text) for x in pats)


# ---------------------------------------------------------------------------------------------
# SSL variable tests (issue 4)

# mod_ssl from Debian, for coexistence and as the reference for variable values
MOD_SSL_MODULES = ("socache_shmcb", "ssl")

# a CGI printing its environment as JSON
ENV_CGI = """#!/usr/bin/python3
import json, os, sys
sys.stdout.write("Content-Type: application/json\\r\\n\\r\\n")
sys.stdout.write(json.dumps(dict(os.environ), sort_keys=True))
"""


def mod_ssl_site(port: int, certs, *, server_name: str = "localhost", extra: str = "",
                 listen: bool = True) -> str:
    """A mod_ssl port: Listen + <VirtualHost> with SSLEngine on and its certificate(s)."""
    if not isinstance(certs, (list, tuple)) or (len(certs) == 2 and not hasattr(certs[0], "cert")
                                                and not isinstance(certs[0], (list, tuple))):
        certs = [certs]
    lines = [f"Listen 127.0.0.1:{port}"] if listen else []
    lines += [f"<VirtualHost 127.0.0.1:{port}>", f"    ServerName {server_name}",
              "    SSLEngine on"]
    for c in certs:
        cert, key = (c.cert, c.key) if hasattr(c, "cert") else c
        lines.append(f"    SSLCertificateFile {cert}")
        if key:
            lines.append(f"    SSLCertificateKeyFile {key}")
    if extra:
        lines.extend("    " + l for l in extra.strip("\n").splitlines())
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


def status_counters(text: str) -> dict[str, str]:
    """`Key: value` lines of a server-status?auto page."""
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out
