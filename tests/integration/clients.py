"""TLS clients used by the tests: curl, openssl s_client and Python's ssl module.

All clients connect to 127.0.0.1 and send SNI "localhost" (curl via --resolve).
"""
from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
from dataclasses import dataclass

HOST = "localhost"
CURL = "curl"
OPENSSL = "openssl"

# curl's --write-out, to stderr so that stdout is the body
CURL_WO = ("%{stderr}\nWO: verify=%{ssl_verify_result} http=%{http_version} "
           "code=%{http_code} connects=%{num_connects} size=%{size_download}\n")


@dataclass
class CurlResult:
    returncode: int
    body: bytes
    stderr: str

    def wo(self, key: str) -> list[str]:
        """Values of one --write-out field, one per transfer."""
        out = []
        for line in self.stderr.splitlines():
            if line.startswith("WO: "):
                for kv in line[4:].split():
                    k, _, v = kv.partition("=")
                    if k == key:
                        out.append(v)
        return out


def url(port: int, path: str = "/") -> str:
    return f"https://{HOST}:{port}{path}"


def curl(port: int, paths=("/",), *, cacert=None, args=(), timeout: float = 60,
         stdout=None, host: str = HOST) -> CurlResult:
    """curl one or more paths on the TLS port (reusing the connection between them).
    host: the name in the URLs (SNI and Host header), resolved to 127.0.0.1."""
    if isinstance(paths, str):
        paths = (paths,)
    cmd = [CURL, "-sS", "--http1.1", "--max-time", str(int(timeout)),
           "--resolve", f"{host}:{port}:127.0.0.1", "-w", CURL_WO]
    if cacert:
        cmd += ["--cacert", str(cacert)]
    cmd += list(args)
    cmd += [f"https://{host}:{port}{p}" for p in paths]
    p = subprocess.run(cmd, stdout=stdout if stdout is not None else subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout + 10)
    return CurlResult(p.returncode, p.stdout or b"", p.stderr.decode("utf-8", "replace"))


def curl_plain(port: int, path: str = "/", timeout: float = 20) -> CurlResult:
    cmd = [CURL, "-sS", "--max-time", str(int(timeout)), "-w", CURL_WO,
           f"http://127.0.0.1:{port}{path}"]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout + 10)
    return CurlResult(p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))


def s_client(port: int, args=(), *, input: bytes = b"", cafile=None, timeout: float = 20,
             servername: str = HOST) -> subprocess.CompletedProcess:
    """openssl s_client; returns the CompletedProcess with text stdout+stderr in .stdout.
    servername=None: send no SNI (-noservername)."""
    cmd = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}"]
    cmd += ["-noservername"] if servername is None else ["-servername", servername]
    if cafile:
        cmd += ["-CAfile", str(cafile), "-verify_return_error"]
    cmd += list(args)
    p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    p.stdout = p.stdout.decode("utf-8", "replace")
    return p


# -- Python ssl ----------------------------------------------------------------------------------

def context(cafile=None, *, min_version=None, max_version=None, verify: bool = True
            ) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Debian's Python sets OP_IGNORE_UNEXPECTED_EOF by default; we want a TCP close without
    # close_notify to be an error (see test_close_notify.py)
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    if verify:
        ctx.load_verify_locations(cafile=str(cafile))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def tls_connect(port: int, ctx: ssl.SSLContext, timeout: float = 20) -> ssl.SSLSocket:
    """A TLS connection to 127.0.0.1:port with SNI localhost. A TCP close without close_notify
    raises SSLEOFError on read (suppress_ragged_eofs=False)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=HOST, suppress_ragged_eofs=False)
    except BaseException:
        raw.close()
        raise


class HTTPSConnection(http.client.HTTPSConnection):
    """Connects to 127.0.0.1 but sends SNI / checks the certificate for 'localhost'."""

    def __init__(self, port: int, ctx: ssl.SSLContext, timeout: float = 30):
        super().__init__(HOST, port, context=ctx, timeout=timeout)
        self._ctx = ctx
        self.connects = 0

    def connect(self):
        self.connects += 1
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(raw, server_hostname=HOST)
        self.tls_version = self.sock.version()
        self.tls_cipher = self.sock.cipher()
        self.peer_cert_der = self.sock.getpeercert(binary_form=True)


def https_get(port: int, path: str, ctx: ssl.SSLContext, method: str = "GET"):
    """One request on a fresh connection: (status, headers, body, tls_version, cipher)."""
    conn = HTTPSConnection(port, ctx)
    try:
        conn.request(method, path, headers={"Connection": "close"})
        r = conn.getresponse()
        body = r.read()
        return r.status, r.headers, body, conn.tls_version, conn.tls_cipher
    finally:
        conn.close()


# -- raw HTTP/1.1 on an (ssl) socket -------------------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]     # lower-case names
    body: bytes


def read_response(f, head: bool = False) -> RawResponse:
    """Read one HTTP/1.1 response from a buffered binary file object."""
    status_line = f.readline()
    if not status_line:
        raise EOFError("connection closed before a response")
    parts = status_line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    if head or status in (204, 304) or 100 <= status < 200:
        return RawResponse(status, headers, b"")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(f.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(f.read(size))
            f.readline()
        return RawResponse(status, headers, b"".join(chunks))
    if "content-length" in headers:
        n = int(headers["content-length"])
        body = f.read(n)
        if len(body) != n:
            raise EOFError(f"short body: {len(body)} of {n}")
        return RawResponse(status, headers, body)
    return RawResponse(status, headers, f.read())


def client_hello(server_hostname: str = HOST, **ctx_kw) -> bytes:
    """The bytes of a real ClientHello (from an in-memory handshake)."""
    ctx = context(verify=False, **ctx_kw)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = outgoing.read()
    assert data[:1] == b"\x16", data[:16]
    return data


# -- connections with a chosen SNI / address (virtual host tests) ---------------------------------

def tls_open(port: int, ctx: ssl.SSLContext, sni: str | None, *, addr: str = "127.0.0.1",
             timeout: float = 20) -> ssl.SSLSocket:
    """A TLS connection to addr:port sending SNI `sni` (None: no SNI; the context must then not
    check the host name). Raises what the handshake raises."""
    raw = socket.create_connection((addr, port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni, suppress_ragged_eofs=False)
    except BaseException:
        raw.close()
        raise


def http_request(s: ssl.SSLSocket, host: str, path: str = "/", *, close: bool = True,
                 headers: dict | None = None) -> RawResponse:
    """Send one HTTP/1.1 GET with the given Host header on s and read the response."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}"]
    if close:
        lines.append("Connection: close")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    f = s.makefile("rb")
    try:
        return read_response(f)
    finally:
        f.close()


@dataclass
class SniResult:
    status: int
    body: bytes
    cert_der: bytes
    version: str
    cipher: str
    alpn: str | None
    client_port: int


def sni_get(port: int, ctx: ssl.SSLContext, sni: str | None, host: str | None = None,
            path: str = "/", *, addr: str = "127.0.0.1") -> SniResult:
    """One request on a fresh connection with SNI `sni` and Host header `host` (default: sni)."""
    with tls_open(port, ctx, sni, addr=addr) as s:
        cport = s.getsockname()[1]
        r = http_request(s, host or sni or addr, path)
        return SniResult(r.status, r.body, s.getpeercert(binary_form=True), s.version(),
                         s.cipher()[0], s.selected_alpn_protocol(), cport)


# -- SSL variable tests (issue 4): cipher names, one exchange with session reuse -----------------

# OpenSSL's names of the TLS 1.2 suites rustls implements -> IANA names (TLS 1.3 names already are)
OPENSSL_TO_IANA = {
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}


def openssl_offers_mlkem() -> bool:
    """Whether this machine's OpenSSL (curl, s_client, Python's ssl) offers X25519MLKEM768 by
    default in TLS 1.3: OpenSSL 3.5 (Debian 13) does, 3.0 (Debian 12) does not."""
    major, minor = ssl.OPENSSL_VERSION_INFO[:2]
    return (major, minor) >= (3, 5)


def default_kx_group(tls_version: str = "1.3") -> str:
    """The key exchange group mod_tls's default TLSGroups agrees with this machine's OpenSSL
    clients on, for TLS version "1.2" or "1.3" (the hybrid is TLS 1.3 only)."""
    return "X25519MLKEM768" if tls_version == "1.3" and openssl_offers_mlkem() else "x25519"


def iana_cipher(name: str) -> str:
    """IANA name of a suite as Python ssl / openssl s_client name it."""
    if name.startswith("TLS_"):
        return name
    return OPENSSL_TO_IANA[name]


def cipher_key_bits(iana: str) -> int:
    """The symmetric key size of a suite (SSL_CIPHER_USEKEYSIZE / ALGKEYSIZE)."""
    if "AES_128" in iana:
        return 128
    if "AES_256" in iana or "CHACHA20" in iana:
        return 256
    raise ValueError(iana)


@dataclass
class Exchange:
    """One request on a fresh TLS connection, with what the client negotiated."""
    response: RawResponse
    version: str
    cipher: str            # IANA name
    secret_bits: int
    cert_der: bytes
    alpn: str | None
    session: object        # ssl.SSLSession (for resumption), may be None
    session_reused: bool
    client_port: int

    def header(self, name: str) -> str | None:
        return self.response.headers.get(name.lower())


def exchange(port: int, ctx: ssl.SSLContext, sni: str | None = HOST, path: str = "/", *,
             host: str | None = None, session=None, headers: dict | None = None) -> Exchange:
    """GET `path` (Host `host`, default the SNI) on a new connection with SNI `sni`, offering
    `session` for resumption."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni, session=session)
    except BaseException:
        raw.close()
        raise
    with s:
        cport = s.getsockname()[1]
        r = http_request(s, host or sni or "localhost", path, headers=headers)
        name, _, bits = s.cipher()
        return Exchange(r, s.version(), iana_cipher(name), bits,
                        s.getpeercert(binary_form=True), s.selected_alpn_protocol(),
                        s.session, s.session_reused, cport)


def read_until_closed(s: socket.socket, timeout: float = 10.0) -> None:
    """Read and discard until the server closes the connection (EOF or reset); a server that
    keeps it open past `timeout` raises socket.timeout."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
