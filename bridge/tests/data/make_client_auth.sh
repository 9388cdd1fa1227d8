#!/bin/sh
# Regenerates the client-certificate test data of the bridge's unit tests
# (src/tests_client_auth.rs) with `openssl ca`. Validity and CRL next-update: 100 years, except
# client-crl-expired.pem (next update in 2020) and client-crl-2030.pem (in 2030).
set -eu
cd "$(dirname "$0")"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

mkca() { # DIR CN
    mkdir -p "$1/new"; : > "$1/index.txt"; echo 1000 > "$1/serial"; echo 01 > "$1/crlnumber"
    cat > "$1/cnf" <<CNF
[ ca ]
default_ca = d
[ d ]
dir = $1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
default_md = sha256
policy = p
x509_extensions = x
default_days = 36500
default_crl_days = 36500
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
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/ca.key" \
        -out "$1/ca.crt" -subj "/CN=$2" -days 36500 -config "$1/cnf" -extensions v3_ca
}
issue() { # DIR NAME
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$2.key" \
        -out "$1/$2.csr" -subj "/CN=$2" -config "$1/cnf"
    openssl ca -batch -notext -config "$1/cnf" -in "$1/$2.csr" -out "$1/$2.crt"
}

mkca "$W/ca" "bridge client CA"
mkca "$W/other" "bridge other CA"
issue "$W/ca" alice
issue "$W/ca" bob
issue "$W/other" mallory
openssl ca -config "$W/ca/cnf" -revoke "$W/ca/bob.crt"
openssl ca -config "$W/ca/cnf" -gencrl -out client-crl.pem
openssl crl -in client-crl.pem -outform DER -out client-crl.der
openssl ca -config "$W/ca/cnf" -gencrl -crl_lastupdate 20200101000000Z \
    -crl_nextupdate 20200201000000Z -out client-crl-expired.pem
openssl ca -config "$W/ca/cnf" -gencrl -crl_nextupdate 20300101000000Z -out client-crl-2030.pem
openssl ca -config "$W/other/cnf" -gencrl -out client-crl-other.pem

cp "$W/ca/ca.crt" client-ca.crt
cp "$W/ca/alice.crt" client-alice.crt; cp "$W/ca/alice.key" client-alice.key
cp "$W/ca/bob.crt" client-bob.crt; cp "$W/ca/bob.key" client-bob.key
cp "$W/other/mallory.crt" client-mallory.crt; cp "$W/other/mallory.key" client-mallory.key
