#!/bin/sh
# Regenerates the client certificates outside their validity period used by
# src/tests_client_auth.rs (certificate_expired): a CA of their own, "bridge dated client CA"
# (100 years), issuing client-expired.crt (valid only in January 2020) and client-future.crt
# (valid from 2125). Made with `openssl ca` like make_client_auth.sh; the CA key is not kept.
set -eu
cd "$(dirname "$0")"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

mkdir -p "$W/new"; : > "$W/index.txt"; echo 2000 > "$W/serial"
cat > "$W/cnf" <<CNF
[ ca ]
default_ca = d
[ d ]
dir = $W
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
default_md = sha256
policy = p
x509_extensions = x
[ p ]
commonName = supplied
[ x ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ req ]
distinguished_name = r
[ r ]
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
CNF
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ca.key" \
    -out "$W/ca.crt" -subj "/CN=bridge dated client CA" -days 36500 -config "$W/cnf" -extensions v3_ca
issue() { # NAME START END
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/$1.key" \
        -out "$W/$1.csr" -subj "/CN=$1" -config "$W/cnf"
    openssl ca -batch -notext -config "$W/cnf" -startdate "$2" -enddate "$3" -in "$W/$1.csr" -out "$W/$1.crt"
}
issue expired 20200101000000Z 20200201000000Z
issue future 21250101000000Z 21260101000000Z

cp "$W/ca.crt" client-dated-ca.crt
for n in expired future; do
    cp "$W/$n.crt" "client-$n.crt"; openssl pkcs8 -topk8 -nocrypt -in "$W/$n.key" -out "client-$n.key"
done
