#!/bin/bash
# Regenerates the test PKI used by src/kx_mlkem.rs tests (ECDSA P-256, PKCS#8 keys).
# Run from this directory.  Requires openssl(1).
set -eu
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out ca.key
openssl req -new -x509 -key ca.key -out ca.pem -days 36500 -sha256 \
    -subj "/CN=mod_tls PQ test CA" -extensions v3_ca \
    -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3_ca]\n'; cat ca.ext)
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out server.key
openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out server.pem -days 36500 -sha256 -extfile server.ext
rm -f server.csr ca.srl
openssl verify -CAfile ca.pem server.pem
