"""OpenSSL cipher strings and protocol lists -> mod_tls's suite preferences and minimum version.

The cipher string is expanded by this machine's OpenSSL (Python's ssl module), exactly as mod_ssl
would expand it, and the result is intersected with the nine suites rustls 0.20 implements.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass, field

# rustls 0.20's suites in its own order (rustls::ALL_CIPHER_SUITES), by IANA code point.
RUSTLS_TLS13 = {
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
}
RUSTLS_TLS12 = {
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}
TLS13_NAMES = set(RUSTLS_TLS13.values())

VERSIONS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
SUPPORTED_VERSIONS = ("TLSv1.2", "TLSv1.3")


@dataclass
class CipherResult:
    prefer: list[str] = field(default_factory=list)     # TLSCiphersPrefer (empty: none needed)
    suppress: list[str] = field(default_factory=list)   # TLSCiphersSuppress (empty: none needed)
    notes: list[str] = field(default_factory=list)      # what does not carry over, and why
    error: str | None = None                             # the string is invalid for OpenSSL


def _openssl_tls12_order(cipher_string: str) -> tuple[list[str], list[str]]:
    """OpenSSL's expansion of a TLS <= 1.2 cipher string: (rustls suites in order, others)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers(cipher_string)  # raises ssl.SSLError when nothing matches
    ours, others = [], []
    for c in ctx.get_ciphers():
        if c.get("protocol") == "TLSv1.3":
            continue  # set_ciphers never changes the TLS 1.3 list
        code = c["id"] & 0xFFFF
        (ours if code in RUSTLS_TLS12 else others).append(RUSTLS_TLS12.get(code, c["name"]))
    return ours, others


def _order_result(allowed: list[str], all_suites: dict[int, str], result: CipherResult) -> None:
    default_order = list(all_suites.values())
    result.suppress = [s for s in default_order if s not in allowed]
    # mod_tls keeps rustls's order and moves the preferred ones to the front: only an order
    # that differs from rustls's needs TLSCiphersPrefer.
    remaining = [s for s in default_order if s in allowed]
    if allowed != remaining:
        result.prefer = list(allowed)


def convert_cipher_suite(args: list[str]) -> CipherResult:
    """SSLCipherSuite [protocol] cipher-spec -> suites to prefer and to suppress."""
    result = CipherResult()
    if len(args) == 2 and args[0].lower() in ("tlsv1.3", "ssl", "http/1.1", "all"):
        protocol, spec = args[0], args[1]
    elif len(args) == 1:
        protocol, spec = "SSL", args[0]
    else:
        result.error = "expects [protocol] cipher-spec"
        return result
    if protocol.lower() == "tlsv1.3":
        names = [n for n in spec.replace(",", ":").split(":") if n]
        unknown = [n for n in names if n not in TLS13_NAMES]
        allowed = [n for n in names if n in TLS13_NAMES]
        if unknown:
            result.notes.append("TLS 1.3 suites rustls does not implement, ignored: "
                                + ", ".join(unknown))
        if not allowed:
            result.error = "names no TLS 1.3 suite that rustls implements"
            return result
        _order_result(allowed, RUSTLS_TLS13, result)
        if len(result.suppress) == len(RUSTLS_TLS13):
            result.notes.append("every TLS 1.3 suite is suppressed, which disables TLS 1.3")
        return result
    try:
        allowed, others = _openssl_tls12_order(spec)
    except ssl.SSLError:
        allowed, others = [], []
        result.notes.append("OpenSSL selects no cipher from this string (mod_ssl would refuse "
                            "it); TLS 1.2 is left with rustls's suites")
        return result
    _order_result(allowed, RUSTLS_TLS12, result)
    if others:
        shown = ", ".join(others[:6]) + (f" and {len(others) - 6} more" if len(others) > 6 else "")
        result.notes.append(f"rustls implements only forward-secret AEAD suites; {len(others)} "
                            f"other suite(s) of the string do not exist in mod_tls: {shown}")
    if not allowed:
        result.notes.append("the string allows none of rustls's TLS 1.2 suites: TLS 1.2 is "
                            "disabled (every TLS 1.2 suite suppressed)")
    result.notes.append("the string applies to TLS 1.2 only, as in mod_ssl; TLS 1.3 suites are "
                        "set with 'SSLCipherSuite TLSv1.3 ...'")
    return result


@dataclass
class ProtocolResult:
    minimum: str | None = None          # "TLSv1.2+" / "TLSv1.3+"
    suppress_tls13: bool = False        # only TLS 1.2 was enabled: no maximum in mod_tls
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def convert_protocol(args: list[str]) -> ProtocolResult:
    """SSLProtocol [+|-]protocol... -> TLSProtocol minimum (mod_ssl's parsing rules)."""
    result = ProtocolResult()
    enabled: set[str] = set()
    lower = {v.lower(): v for v in VERSIONS}
    for arg in args:
        op = ""
        if arg[:1] in "+-":
            op, arg = arg[0], arg[1:]
        key = arg.lower()
        if key == "all":
            names = set(VERSIONS) - {"SSLv2"}
        elif key in lower:
            names = {lower[key]}
        else:
            result.error = f"unknown protocol '{arg}'"
            return result
        if op == "-":
            enabled -= names
        elif op == "+":
            enabled |= names
        else:
            enabled = set(names)  # a word without +/- starts over, as mod_ssl does
    old = sorted(enabled - set(SUPPORTED_VERSIONS), key=VERSIONS.index)
    if old:
        result.notes.append(f"{', '.join(old)} not supported by rustls (TLS 1.2 is the minimum)")
    usable = [v for v in SUPPORTED_VERSIONS if v in enabled]
    if not usable:
        result.error = "enables no protocol rustls supports (TLS 1.2 or 1.3)"
        return result
    result.minimum = usable[0] + "+"
    if usable == ["TLSv1.2"]:
        result.suppress_tls13 = True
        result.notes.append("mod_tls has no maximum version: TLS 1.3 is switched off by "
                            "suppressing its three suites")
    return result
