"""mod_ssl directives -> mod_tls directives, line by line, keeping everything else as written.

Each file's lines are copied unchanged except those that use mod_ssl: those are replaced by their
mod_tls equivalents (with a comment naming the original), or, when there is none, kept as a comment
saying why. Every such decision is also recorded as a Note for the summary.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import ciphers
from .apache_config import ConfigFile, Line
from .no_equivalent import REASONS

MOD_TLS_SO = "/usr/lib/apache2/modules/mod_tls.so"
SSL_MODULE_NAMES = {"mod_ssl.c": "tls_module", "ssl_module": "tls_module"}
CERT_DIRECTIVES = ("sslcertificatefile", "sslcertificatekeyfile", "sslcertificatechainfile")
DIR_SECTIONS = {"directory", "directorymatch", "files", "filesmatch", "location",
                "locationmatch", "if", "elseif", "else"}


@dataclass
class Note:
    path: str
    line: int
    text: str        # the directive as written
    reason: str
    kind: str        # "none" (no equivalent), "check" (converted, behaviour to check)


@dataclass
class FileResult:
    path: str
    changed: bool
    text: str


@dataclass
class _Scope:
    """Cert and cipher directives of one section, merged into one place on output."""
    certs: list[Line] = field(default_factory=list)
    keys: list[Line] = field(default_factory=list)
    chains: list[Line] = field(default_factory=list)
    cipher_lines: dict[str, list[Line]] = field(default_factory=dict)  # "" or "proxy"


def _q(arg: str) -> str:
    return f'"{arg}"' if (not arg or any(c.isspace() for c in arg)) else arg


def _directive(name: str, args: list[str]) -> str:
    return " ".join([name] + [_q(a) for a in args])


def _context(line: Line, outer: tuple = ()) -> str:
    """'dir', 'proxy', 'vhost' or 'server' for the innermost section that matters (outer: the
    sections around the Include that read the line's file)."""
    for name, _ in reversed(outer + line.scopes):
        low = name.lower()
        if low in DIR_SECTIONS:
            return "dir"
        if low in ("proxy", "proxymatch"):
            return "proxy"
        if low == "virtualhost":
            return "vhost"
    return "server"


def engine_address(addr: str) -> tuple[str | None, str | None]:
    """A VirtualHost address -> (TLSEngine argument, note)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or (host.startswith("[") and not host.endswith("]")):
        return None, (f"address '{addr}' has no port: add TLSEngine <port> for the port it "
                      "listens on")
    if host in ("*", "_default_"):
        return port, None
    if host.startswith("[") or all(c.isdigit() or c == "." for c in host):
        return f"{host}:{port}", None
    return port, (f"TLSEngine takes an IP address, not the name '{host}': port {port} is "
                  "enabled on every address")


class Converter:
    def __init__(self, files: list[ConfigFile]):
        self.files = files
        self.notes: list[Note] = []
        self._engines: set[str] = set()
        self._tls_addresses: dict[str, str] = {}    # TLSEngine arg -> where
        self._plain_vhosts: list[tuple[str, Line, list[str]]] = []
        self.saw_strict_sni = False
        self.saw_ssl_engine = False
        # The server's suite order only matters where it wins over the client's.
        self.server_order = any(l.key == "sslhonorcipherorder" and l.args
                                and l.args[0].lower() == "on"
                                for f in files for l in f.lines if l.kind == "directive")

    # ---- notes -------------------------------------------------------------------------------
    def _none(self, path: str, line: Line, reason: str) -> list[str]:
        self.notes.append(Note(path, line.first, line.text, reason, "none"))
        return [f"{line.indent}#{line.text}",
                f"{line.indent}#   tls-migrate: no equivalent: {reason}"]

    def _check(self, path: str, line: Line, reason: str) -> None:
        self.notes.append(Note(path, line.first, line.text, reason,
                               "check"))

    # ---- driver ------------------------------------------------------------------------------
    def run(self) -> list[FileResult]:
        results = [self._convert_file(f) for f in self.files]
        for path, line, addrs in self._plain_vhosts:
            for addr in addrs:
                if addr in self._tls_addresses:
                    self._check(path, line, f"this virtual host has no SSLEngine on but shares "
                                f"address {addr} with a TLS host ({self._tls_addresses[addr]}): "
                                "with mod_tls every host on a TLSEngine address serves TLS")
        if self.saw_ssl_engine and not self.saw_strict_sni:
            self.notes.append(Note("", 0, "TLSStrictSNI", "mod_tls's default is 'on' (mod_ssl's "
                                   "SSLStrictSNIVHostCheck default is off): clients that send no "
                                   "SNI, or an unknown name, are refused where several hosts "
                                   "share an address; add 'TLSStrictSNI off' to keep mod_ssl's "
                                   "behaviour", "check"))
        return results

    def _convert_file(self, config: ConfigFile) -> FileResult:
        self._file = config
        scopes = self._collect_scopes(config)
        ssl_vhosts = self._ssl_vhosts(config)
        out: list[str] = []
        changed = False
        stack: list[int] = [-1]  # index of the open line of each enclosing section
        for index, line in enumerate(config.lines):
            if line.kind == "open":
                replacement = self._open(config.path, index, line, ssl_vhosts)
                stack.append(index)
            elif line.kind == "close":
                replacement = None
                if len(stack) > 1:
                    stack.pop()
            elif line.kind == "directive":
                replacement = self._directive_line(config.path, line, scopes[stack[-1]])
            else:
                replacement = None
            if replacement is None:
                out.append(line.raw if line.raw.endswith("\n") else line.raw + "\n")
            else:
                changed = True
                out.extend(r + "\n" for r in replacement)
        return FileResult(config.path, changed, "".join(out))

    def _collect_scopes(self, config: ConfigFile) -> dict[int, _Scope]:
        scopes: dict[int, _Scope] = {-1: _Scope()}
        stack = [-1]
        for index, line in enumerate(config.lines):
            if line.kind == "open":
                scopes[index] = _Scope()
                stack.append(index)
            elif line.kind == "close" and len(stack) > 1:
                stack.pop()
            elif line.kind == "directive":
                scope = scopes[stack[-1]]
                key = line.key
                if key == "sslcertificatefile":
                    scope.certs.append(line)
                elif key == "sslcertificatekeyfile":
                    scope.keys.append(line)
                elif key == "sslcertificatechainfile":
                    scope.chains.append(line)
                elif key in ("sslciphersuite", "sslprotocol"):
                    scope.cipher_lines.setdefault("", []).append(line)
                elif key in ("sslproxyciphersuite", "sslproxyprotocol"):
                    scope.cipher_lines.setdefault("proxy", []).append(line)
        return scopes

    def _ssl_vhosts(self, config: ConfigFile) -> set[int]:
        """Indexes of the <VirtualHost> lines whose host has 'SSLEngine on'."""
        found: set[int] = set()
        stack: list[int] = []
        for index, line in enumerate(config.lines):
            if line.kind == "open":
                stack.append(index)
            elif line.kind == "close" and stack:
                stack.pop()
            elif (line.kind == "directive" and line.key == "sslengine" and line.args
                  and line.args[0].lower() == "on"):
                for opener in reversed(stack):
                    if config.lines[opener].key == "virtualhost":
                        found.add(opener)
                        break
        return found

    # ---- sections ----------------------------------------------------------------------------
    def _open(self, path: str, index: int, line: Line, ssl_vhosts: set[int]) -> list[str] | None:
        if line.key == "ifmodule" and line.args:
            arg = line.args[0]
            negate = "!" if arg.startswith("!") else ""
            target = SSL_MODULE_NAMES.get(arg.lstrip("!"))
            if target:
                return [f"{line.indent}<{line.name} {negate}{target}>"]
            return None
        if line.key != "virtualhost":
            return None
        if index not in ssl_vhosts:
            self._plain_vhosts.append((path, line, [a for a in
                                                    (engine_address(x)[0] for x in line.args)
                                                    if a]))
            return None
        lines = []
        for addr in line.args:
            engine, note = engine_address(addr)
            if note:
                self._check(path, line, note)
            if engine is None:
                continue
            self._tls_addresses.setdefault(engine, f"{path}:{line.first}")
            if engine not in self._engines:
                self._engines.add(engine)
                lines.append(f"{line.indent}# tls-migrate: TLS on this address (mod_ssl: "
                             "SSLEngine on in the virtual host)")
                lines.append(f"{line.indent}TLSEngine {engine}")
        return lines + [line.raw.rstrip("\r\n")] if lines else None

    # ---- directives --------------------------------------------------------------------------
    def _directive_line(self, path: str, line: Line, scope: _Scope) -> list[str] | None:
        key = line.key
        if key == "loadmodule" and line.args and line.args[0] == "ssl_module":
            self._check(path, line, "on Debian: a2dismod ssl && a2enmod tls")
            return [f"{line.indent}# tls-migrate: was {line.text}",
                    f"{line.indent}LoadModule tls_module {MOD_TLS_SO}"]
        if key == "mutex" and len(line.args) >= 2:
            return self._mutex(path, line)
        if not key.startswith("ssl"):
            return None
        handler = getattr(self, "_d_" + key, None)
        if handler is not None:
            return handler(path, line, scope)
        if key in REASONS and REASONS[key]:
            return self._none(path, line, REASONS[key])
        return self._none(path, line, "not a directive tls-migrate knows (not mod_ssl 2.4?)")

    def _replace(self, line: Line, new: list[str], comment: bool = True) -> list[str]:
        head = [f"{line.indent}# tls-migrate: was {line.text}"] if comment \
            else []
        return head + [f"{line.indent}{n}" for n in new]

    def _mutex(self, path: str, line: Line) -> list[str] | None:
        names = line.args[1:]
        if not any(n.lower() in ("ssl-cache", "ssl-stapling") for n in names):
            return None
        kept = []
        for n in names:
            if n.lower() == "ssl-cache":
                kept.append("tls-session-cache")
            elif n.lower() == "ssl-stapling":
                self._check(path, line, "ssl-stapling: mod_md does the stapling and has its own "
                            "locking")
            else:
                kept.append(n)
        if not kept:
            return self._none(path, line, "mod_md does the OCSP stapling with its own locking")
        return self._replace(line, [_directive("Mutex", [line.args[0]] + kept)])

    def _d_sslengine(self, path, line, scope):
        value = line.args[0].lower() if line.args else ""
        context = _context(line, self._file.outer_scopes)
        if value == "on":
            self.saw_ssl_engine = True
            if context == "vhost" and not any(n.lower() == "virtualhost"
                                              for n, _ in line.scopes):
                # The <VirtualHost> is in the file whose Include read this one.
                vhost_args = next(a for n, a in reversed(self._file.outer_scopes)
                                  if n.lower() == "virtualhost")
                engines = [e for e in (engine_address(a)[0] for a in vhost_args) if e]
                where = "%s:%d" % self._file.included_at
                self._check(path, line, f"the <VirtualHost {' '.join(vhost_args)}> around the "
                            f"Include at {where} needs "
                            + ", ".join(f"'TLSEngine {e}'" for e in engines)
                            + " before it (server context)")
                return [f"{line.indent}# tls-migrate: was {line.text}: add TLSEngine before the "
                        f"<VirtualHost> around the Include at {where}"]
            if context == "vhost":
                return [f"{line.indent}# tls-migrate: was {line.text}: "
                        "see TLSEngine before <VirtualHost>"]
            return self._none(path, line, "in the main server: add 'TLSEngine <port>' for the "
                              "main server's Listen port")
        if value == "off":
            return [f"{line.indent}# tls-migrate: was {line.text}: not "
                    "needed, only TLSEngine addresses serve TLS"]
        return self._none(path, line, "'optional' (TLS upgrade, RFC 2817) is not implemented "
                          "by mod_tls or any browser")

    # certificates: all of a section's certificate lines become TLSCertificate lines at the first
    def _d_sslcertificatefile(self, path, line, scope: _Scope):
        if line is not scope.certs[0]:
            return [f"{line.indent}# tls-migrate: was {line.text}: in "
                    "the TLSCertificate lines above"]
        out = []
        keys = [k.args[0] for k in scope.keys if k.args]
        for i, cert in enumerate(scope.certs):
            if not cert.args:
                continue
            args = [cert.args[0]] + ([keys[i]] if i < len(keys) else [])
            origin = [cert.text]
            if i < len(keys):
                origin.append(scope.keys[i].text)
            out.append(f"# tls-migrate: was {' + '.join(origin)}")
            out.append(_directive("TLSCertificate", args))
        if scope.chains:
            chain = scope.chains[0].args[0] if scope.chains[0].args else "chain.pem"
            self._check(path, line, f"SSLCertificateChainFile {chain}: mod_tls reads the chain "
                        "from the certificate file: append it (cat cert.pem "
                        f"{chain} > fullchain.pem) and name fullchain.pem in TLSCertificate")
            out.append(f"# tls-migrate: append {chain} to the certificate file "
                       "(SSLCertificateChainFile has no equivalent)")
        if len(scope.certs) > 1:
            self._check(path, line, "several certificates: mod_tls uses the first one the client "
                        "can use, so list the ECDSA one before the RSA one")
        return [f"{line.indent}{o}" for o in out]

    def _d_sslcertificatekeyfile(self, path, line, scope: _Scope):
        if not scope.certs:
            return self._none(path, line, "no SSLCertificateFile in the same section to pair it "
                              "with: give both to TLSCertificate cert_file key_file")
        return [f"{line.indent}# tls-migrate: was {line.text}: in the "
                "TLSCertificate lines above"]

    def _d_sslcertificatechainfile(self, path, line, scope: _Scope):
        if not scope.certs:
            return self._none(path, line, "append the chain to the certificate file named by "
                              "TLSCertificate")
        return [f"{line.indent}#{line.text}",
                f"{line.indent}#   tls-migrate: append this chain to the certificate file "
                "(see above)"]

    # protocol and ciphers: a section's lines become one Prefer and one Suppress line, because a
    # later TLSCiphersSuppress replaces an earlier one.
    def _cipher_lines(self, path, line, scope: _Scope, proxy: bool):
        lines = scope.cipher_lines["proxy" if proxy else ""]
        prefix = "TLSProxy" if proxy else "TLS"
        head = [f"# tls-migrate: was {line.text}"]
        if line is not lines[0]:
            head = [f"# tls-migrate: was {line.text}: merged into the "
                    f"{prefix}* lines above"]
            return [f"{line.indent}{h}" for h in head]
        prefer13: list[str] = []
        prefer12: list[str] = []
        suppress: list[str] = []
        out: list[str] = []
        for item in lines:
            if item is not line:
                out.append(f"# tls-migrate: and {item.text}")
            if item.key.endswith("protocol"):
                result = ciphers.convert_protocol(item.args)
                if result.error:
                    self.notes.append(Note(path, item.first, item.text,
                                           result.error, "none"))
                    continue
                out.append(_directive(prefix + "Protocol", [result.minimum]))
                if result.suppress_tls13:
                    suppress += list(ciphers.RUSTLS_TLS13.values())
                for n in result.notes:
                    self._check(path, item, n)
            else:
                result = ciphers.convert_cipher_suite(item.args)
                if result.error:
                    self.notes.append(Note(path, item.first, item.text,
                                           result.error, "none"))
                    continue
                tls13 = len(item.args) == 2 and item.args[0].lower() == "tlsv1.3"
                (prefer13 if tls13 else prefer12).extend(result.prefer)
                suppress += result.suppress
                for n in result.notes:
                    self._check(path, item, n)
        prefer = prefer13 + prefer12 if (proxy or self.server_order) else []
        if prefer:
            out.append(_directive(prefix + "CiphersPrefer", prefer))
            self._check(path, line, f"{prefix}CiphersPrefer orders suites only where the "
                        "server's order wins (TLSHonorClientOrder off; mod_ssl: "
                        "SSLHonorCipherOrder on)" if not proxy else
                        "TLSProxyCiphersPrefer sets the order offered to backends")
        unique_suppress = list(dict.fromkeys(suppress))
        if unique_suppress:
            out.append(_directive(prefix + "CiphersSuppress", unique_suppress))
        if not any(not o.startswith("#") for o in out):
            out.append(f"# tls-migrate: nothing to set: rustls's defaults already match")
        return [f"{line.indent}{o}" for o in head + out]

    def _d_sslprotocol(self, path, line, scope):
        return self._cipher_lines(path, line, scope, proxy=False)

    _d_sslciphersuite = _d_sslprotocol

    def _d_sslproxyprotocol(self, path, line, scope):
        return self._cipher_lines(path, line, scope, proxy=True)

    _d_sslproxyciphersuite = _d_sslproxyprotocol

    def _d_sslhonorcipherorder(self, path, line, scope):
        value = line.args[0].lower() if line.args else ""
        if value not in ("on", "off"):
            return self._none(path, line, "expects on or off")
        return self._replace(line, ["TLSHonorClientOrder " + ("off" if value == "on" else "on")])

    def _d_sslstrictsnivhostcheck(self, path, line, scope):
        self.saw_strict_sni = True
        return self._replace(line, [_directive("TLSStrictSNI", line.args)])

    def _d_sslsessioncache(self, path, line, scope):
        spec = line.args[0] if line.args else ""
        if spec.lower() in ("none", "nonenotnull"):
            return self._replace(line, ["TLSSessionCache none"])
        return self._replace(line, [_directive("TLSSessionCache", [spec])])

    def _d_sslsessiontickets(self, path, line, scope):
        value = line.args[0].lower() if line.args else ""
        if value == "off":
            return [f"{line.indent}# tls-migrate: was {line.text}: not "
                    "needed, mod_tls issues tickets only with TLSSessionTicketKeys"]
        return self._none(path, line, "mod_tls issues session tickets only with "
                          "TLSSessionTicketKeys <file> (openssl rand -base64 32 > file; "
                          "chmod 600); without it sessions resume through TLSSessionCache")

    def _d_ssloptions(self, path, line, scope):
        kept, dropped = [], []
        for arg in line.args:
            sign = arg[0] if arg[:1] in "+-" else ""
            name = arg[len(sign):].lower()
            if name in ("stdenvvars", "exportcertdata"):
                kept.append(sign + {"stdenvvars": "StdEnvVars",
                                    "exportcertdata": "ExportCertData"}[name])
            else:
                dropped.append(arg)
        if any(a[:1] not in "+-" for a in line.args) and any(k[:1] in "+-" for k in kept) \
                or (kept == [] and any(a[:1] not in "+-" for a in line.args)):
            # The line resets the options (a word without +/-): after a reset "+X" is "X".
            kept = [k.lstrip("+") for k in kept if not k.startswith("-")] or ["Defaults"]
        out = []
        if dropped:
            reasons = {"fakebasicauth": "FakeBasicAuth: use TLSUserName and real authentication",
                       "strictrequire": "StrictRequire: there is no SSLRequire",
                       "optrenegotiate": "OptRenegotiate: mod_tls never renegotiates",
                       "legacydnstringformat": "LegacyDNStringFormat: DNs are always RFC 2253"}
            why = "; ".join(reasons.get(d.lstrip("+-").lower(), f"{d}: unknown option")
                            for d in dropped)
            self.notes.append(Note(path, line.first, line.text, why,
                                   "none"))
            out.append(f"# tls-migrate: dropped {' '.join(dropped)} ({why})")
        if kept:
            out.append(_directive("TLSOptions", kept))
        return self._replace(line, out)

    def _d_sslverifyclient(self, path, line, scope):
        value = line.args[0].lower() if line.args else ""
        if _context(line, self._file.outer_scopes) == "dir":
            return self._none(path, line, "mod_tls asks for client certificates in the handshake "
                              "only (no renegotiation per directory): set TLSClientCertificate "
                              "optional on the virtual host and check SSL_CLIENT_VERIFY with "
                              "'Require expr' in the directory")
        mapping = {"require": "required", "optional": "optional", "none": "none"}
        if value in mapping:
            return self._replace(line, ["TLSClientCertificate " + mapping[value]])
        if value == "optional_no_ca":
            self._check(path, line, "optional_no_ca has no equivalent: converted to optional, "
                        "which refuses a certificate that does not verify against TLSClientCA")
            return self._replace(line, ["TLSClientCertificate optional"])
        return self._none(path, line, f"unknown value '{value}'")

    def _d_sslcacertificatefile(self, path, line, scope):
        return self._replace(line, [_directive("TLSClientCA", line.args)])

    def _d_sslcarevocationfile(self, path, line, scope):
        return self._replace(line, [_directive("TLSClientCRL", line.args)])

    def _d_sslusername(self, path, line, scope):
        if _context(line, self._file.outer_scopes) == "dir":
            return self._none(path, line, "TLSUserName is set per virtual host: move it there")
        return self._replace(line, [_directive("TLSUserName", line.args)])

    # backends (mod_proxy)
    def _d_sslproxyengine(self, path, line, scope):
        return self._replace(line, [_directive("TLSProxyEngine", line.args)])

    def _d_sslproxycacertificatefile(self, path, line, scope):
        return self._replace(line, [_directive("TLSProxyCA", line.args)])

    def _d_sslproxymachinecertificatefile(self, path, line, scope):
        return self._replace(line, [_directive("TLSProxyMachineCertificate", line.args)])

    def _d_sslproxyverify(self, path, line, scope):
        value = line.args[0].lower() if line.args else ""
        if value == "require":
            return [f"{line.indent}# tls-migrate: was {line.text}: not "
                    "needed, mod_tls always verifies backends (TLSProxyCA, else the system "
                    "store)"]
        return self._none(path, line, "mod_tls always verifies backend certificates: trust the "
                          "backend's CA (or its self-signed certificate) with TLSProxyCA")

    def _check_peer(self, path, line, scope):
        value = line.args[0].lower() if line.args else ""
        if value == "on":
            return [f"{line.indent}# tls-migrate: was {line.text}: not "
                    "needed, mod_tls always checks the backend's name and validity"]
        return self._none(path, line, "mod_tls always checks the backend certificate's name and "
                          "validity; make the certificate match the name in ProxyPass (or "
                          "use ProxyPreserveHost)")

    _d_sslproxycheckpeername = _check_peer
    _d_sslproxycheckpeercn = _check_peer
    _d_sslproxycheckpeerexpire = _check_peer
