"""mod_ssl directives that have no mod_tls equivalent, each with the reason shown to the user.

Keys are lower-case directive names. Directives whose meaning depends on their value (SSLVerifyClient
optional_no_ca, SSLProxyVerify none, ...) are decided in convert.py.
"""

REASONS = {
    "sslrandomseed": "not needed: rustls takes its randomness from the operating system",
    "sslpassphrasedialog": "mod_tls refuses encrypted keys; decrypt the key once "
                           "(openssl pkey -in encrypted.key -out plain.key) and make it root-only",
    "sslcryptodevice": "rustls (ring) has no engine support; its AES-GCM and ChaCha20 use the "
                       "CPU's instructions directly",
    "sslsessioncachetimeout": "mod_tls has no setting for the session lifetime",
    "sslcompression": "not needed: rustls never compresses (compression is insecure, CRIME)",
    "sslinsecurerenegotiation": "not needed: rustls does not renegotiate at all",
    "ssloptions": "",  # decided per option in convert.py
    "sslrequire": "removed from mod_ssl's recommended use; write 'Require expr' with "
                  "%{SSL:SSL_CLIENT_S_DN_O}-style variables (inside <RequireAll> with the other "
                  "Require lines)",
    "sslrequiressl": "write 'Require expr %{HTTPS} == \"on\"' inside <RequireAll> with the other "
                     "Require lines (a lone Require line would be OR-ed with them)",
    "sslrenegbuffersize": "not needed: mod_tls never renegotiates",
    "sslverifydepth": "rustls verifies chains of any length it can build to TLSClientCA; there "
                      "is no depth limit",
    "sslcacertificatepath": "mod_tls reads one PEM file: concatenate the directory's certificates "
                            "(cat DIR/*.pem > ca.pem) and use TLSClientCA ca.pem",
    "sslcarevocationpath": "mod_tls reads CRL files: give each one with TLSClientCRL "
                           "(repeatable)",
    "sslcarevocationcheck": "with TLSClientCRL every configured CRL is checked; there is no "
                            "chain/leaf/none switch",
    "sslcadnrequestfile": "mod_tls names the subjects of TLSClientCA in its certificate request",
    "sslcadnrequestpath": "mod_tls names the subjects of TLSClientCA in its certificate request",
    "sslocspenable": "mod_tls does not check client certificates with OCSP; use TLSClientCRL",
    "sslocspdefaultresponder": "mod_tls does not check client certificates with OCSP",
    "sslocspoverrideresponder": "mod_tls does not check client certificates with OCSP",
    "sslocsprespondertimeout": "mod_tls does not check client certificates with OCSP",
    "sslocspresponsemaxage": "mod_tls does not check client certificates with OCSP",
    "sslocspresponsetimeskew": "mod_tls does not check client certificates with OCSP",
    "sslocspuserequestnonce": "mod_tls does not check client certificates with OCSP",
    "sslocspproxyurl": "mod_tls does not check client certificates with OCSP",
    "sslocsprespondercertificatefile": "mod_tls does not check client certificates with OCSP",
    "sslocspnoverify": "mod_tls does not check client certificates with OCSP",
    "sslusestapling": "OCSP stapling comes from mod_md: 'MDStapling on' (also for certificates "
                      "mod_md does not manage, with 'MDStapleOthers on')",
    "sslstaplingcache": "OCSP stapling comes from mod_md (MDStapling); it keeps its own store",
    "sslstaplingerrorcachetimeout": "OCSP stapling comes from mod_md (MDStapling)",
    "sslstaplingfaketrylater": "OCSP stapling comes from mod_md (MDStapling)",
    "sslstaplingforceurl": "OCSP stapling comes from mod_md (MDStapling)",
    "sslstaplingrespondertimeout": "OCSP stapling comes from mod_md (MDStapling)",
    "sslstaplingresponsemaxage": "OCSP stapling comes from mod_md (MDStapling)",
    "sslstaplingresponsetimeskew": "OCSP stapling comes from mod_md (MDStapling)",
    "sslstaplingreturnrespondererrors": "OCSP stapling comes from mod_md (MDStapling)",
    "sslstaplingstandardcachetimeout": "OCSP stapling comes from mod_md (MDStapling)",
    "sslopensslconfcmd": "an OpenSSL-specific setting; rustls has no equivalent knobs",
    "sslsrpverifierfile": "rustls does not implement SRP",
    "sslsrpunknownuserseed": "rustls does not implement SRP",
    "sslfips": "rustls 0.20 (ring) has no FIPS mode",
    "sslsessionticketkeyfile": "the format differs: make a file of base64 32-byte keys "
                               "(openssl rand -base64 32 > keys; chmod 600) for "
                               "TLSSessionTicketKeys",
    "sslpolicy": "mod_ssl's policies do not apply; mod_tls's defaults are already strict",
    "sslproxycacertificatepath": "mod_tls reads one PEM file: concatenate the directory's "
                                 "certificates and use TLSProxyCA",
    "sslproxymachinecertificatepath": "give each certificate file with "
                                      "TLSProxyMachineCertificate (repeatable)",
    "sslproxymachinecertificatechainfile": "append the chain to the certificate file given to "
                                           "TLSProxyMachineCertificate",
    "sslproxyverifydepth": "rustls verifies backend chains of any length it can build",
    "sslproxycarevocationfile": "mod_tls does not check backend certificates against CRLs",
    "sslproxycarevocationpath": "mod_tls does not check backend certificates against CRLs",
    "sslproxycarevocationcheck": "mod_tls does not check backend certificates against CRLs",
    "sslengineoptional": "",
}
