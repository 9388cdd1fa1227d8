#!/bin/sh
# Regenerates the test certificates and keys used by the bridge's unit tests (src/tests.rs).
# The generated PEM files are kept in the tree; run this only to replace them.
# Validity is 100 years, except expired.crt.
set -eu
cd "$(dirname "$0")"
DAYS=36500
SAN="subjectAltName=DNS:localhost,DNS:example.test"
LEAF_EXT="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
$SAN"
CA_EXT="basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash"

printf '%s\n' "$LEAF_EXT" > leaf.ext
printf '%s\n' "$CA_EXT" > ca.ext

# CA (ECDSA P-256)
openssl ecparam -name prime256v1 -genkey -noout -out ca.key.sec1
openssl pkey -in ca.key.sec1 -out ca.key
rm -f ca.key.sec1
openssl req -x509 -new -key ca.key -subj "/CN=mod_tls bridge test CA" -days $DAYS \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt

# sign NAME ISSUER_CRT ISSUER_KEY EXTFILE [DAYS]
sign() {
    openssl req -new -key "$1.key" -subj "/CN=localhost" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA "$2" -CAkey "$3" -CAcreateserial -days "${5:-$DAYS}" \
        -extfile "$4" -out "$1.crt"
    rm -f "$1.csr"
}

# RSA-2048 leaf: PKCS#8 (rsa.key) and PKCS#1 (rsa.pkcs1.key)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
openssl pkey -in rsa.key -traditional -out rsa.pkcs1.key
sign rsa ca.crt ca.key leaf.ext

# ECDSA P-256 and P-384 leaves: SEC1 (*.sec1.key) and PKCS#8 (*.key)
for c in p256:prime256v1 p384:secp384r1; do
    n=${c%%:*}; curve=${c#*:}
    openssl ecparam -name "$curve" -genkey -noout -out "ecdsa-$n.sec1.key"
    openssl pkey -in "ecdsa-$n.sec1.key" -out "ecdsa-$n.key"
    sign "ecdsa-$n" ca.crt ca.key leaf.ext
done

# Ed25519 leaf
openssl genpkey -algorithm ED25519 -out ed25519.key
sign ed25519 ca.crt ca.key leaf.ext

# Intermediate CA and a leaf it signs; chain.crt = leaf + intermediate
openssl ecparam -name prime256v1 -genkey -noout -out inter.key.sec1
openssl pkey -in inter.key.sec1 -out inter.key
rm -f inter.key.sec1
openssl req -new -key inter.key -subj "/CN=mod_tls bridge test intermediate" -out inter.csr
openssl x509 -req -in inter.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days $DAYS \
    -extfile ca.ext -out inter.crt
rm -f inter.csr
openssl ecparam -name prime256v1 -genkey -noout -out chain-leaf.sec1.key
openssl pkey -in chain-leaf.sec1.key -out chain-leaf.key
rm -f chain-leaf.sec1.key
sign chain-leaf inter.crt inter.key leaf.ext
cat chain-leaf.crt inter.crt > chain.crt

# Encrypted key (PKCS#8 "ENCRYPTED PRIVATE KEY") and legacy encrypted PKCS#1 (Proc-Type)
openssl pkey -in rsa.key -aes256 -passout pass:secret -out encrypted.key
openssl rsa -in rsa.key -aes256 -passout pass:secret -traditional -out encrypted-legacy.key 2>/dev/null

# RSA-1024 leaf (too small for rustls/ring)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key
sign rsa1024 ca.crt ca.key leaf.ext

# A key that does not match rsa.crt
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other-rsa.key

# Expired leaf: -days -1 puts notAfter one day before notBefore (OpenSSL 3.0 has no -not_after)
openssl req -new -key rsa.key -subj "/CN=localhost" -out expired.csr
openssl x509 -req -in expired.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days -1 \
    -extfile leaf.ext -out expired.crt
rm -f expired.csr ca.srl inter.srl leaf.ext ca.ext

# A self-signed certificate with a rich DN (repeated and multi-valued attributes, escapes, UTF-8)
# and e-mail and DNS subjectAltNames, for the certificate-field tests (src/certinfo tests).
openssl req -x509 -new -key ecdsa-p256.key -days $DAYS -utf8 -multivalue-rdn \
    -set_serial 0x00f1e2d3c4b5a69788 \
    -subj '/C=DE/ST=Baden-Württemberg/L=Karlsruhe/O=Example\, Inc./OU=Web/OU=Ops/CN=www.example.test+UID=u42/emailAddress=admin@example.test/title=#1 Boss/GN=Ann/SN=Smith/description=semi;colon<x>' \
    -addext "subjectAltName=DNS:www.example.test,DNS:example.test,email:admin@example.test,IP:127.0.0.1,email:ops@example.test" \
    -out dn-rich.crt

# The DN corner cases (dn-edge.crt) are written by make_dn_edge.py.
/usr/bin/python3 make_dn_edge.py

# An ACME tls-alpn-01 challenge certificate (RFC 8737): critical acmeIdentifier extension, which
# webpki refuses to parse.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout acme-challenge.key \
    -out acme-challenge.crt -days 3650 -subj "/CN=acme.test" -addext "subjectAltName=DNS:acme.test" \
    -addext "1.3.6.1.5.5.7.1.31=critical,DER:04:20:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

# A leaf named only by IP addresses (a backend addressed by IP: no SNI, IP address SANs).
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,IP:::1" > ip.ext
openssl ecparam -name prime256v1 -genkey -noout -out ip.sec1.key
openssl pkey -in ip.sec1.key -out ip.key
rm -f ip.sec1.key
openssl req -new -key ip.key -subj "/CN=127.0.0.1" -out ip.csr
openssl x509 -req -in ip.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days $DAYS -extfile ip.ext -out ip.crt
rm -f ip.csr ip.ext ca.srl
