"""The packaged sample site (packaging/apache2/default-tls.conf) moved to a test's port,
certificate and document root: the lines an administrator edits for a real site, each of which
must occur exactly once."""
from __future__ import annotations

import re


def adapt(text: str, *, port: int, engine: str, cert, key, docroot) -> str:
    """default-tls.conf's text with port 443, the snakeoil certificate and key and /var/www/html
    replaced; `engine` is the TLSEngine argument (e.g. the port, or 127.0.0.1:port)."""
    for old, new in ((r"Listen 443\b", f"Listen 127.0.0.1:{port}"),
                     (r"TLSEngine 443\b", f"TLSEngine {engine}"),
                     (r"<VirtualHost \*:443>", f"<VirtualHost *:{port}>"),
                     (r"/etc/ssl/certs/ssl-cert-snakeoil\.pem", str(cert)),
                     (r"/etc/ssl/private/ssl-cert-snakeoil\.key", str(key)),
                     (r"DocumentRoot /var/www/html", f"DocumentRoot {docroot}")):
        text, n = re.subn(old, new, text)
        assert n == 1, f"default-tls.conf has no single '{old}'"
    return text
