#!/bin/sh
# Makes the PKCS#12 fixtures of the template tests with OpenSSL 3: a chain
# root -> intermediate -> leaf (EC P-256 keys, subject and authority key
# ids set), and archives of the leaf key with the chain in the layouts
# OpenSSL writes. Run it in this directory; the files are committed.
set -eu
days=36500
openssl ecparam -name prime256v1 -genkey -noout -out root.key
openssl req -x509 -new -key root.key -subj /CN=kseal-test-root -days $days -out root.crt \
  -addext basicConstraints=critical,CA:true -addext subjectKeyIdentifier=hash
openssl ecparam -name prime256v1 -genkey -noout -out intermediate.key
openssl req -new -key intermediate.key -subj /CN=kseal-test-intermediate -out intermediate.csr
printf 'basicConstraints=critical,CA:true\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > ca.ext
openssl x509 -req -in intermediate.csr -CA root.crt -CAkey root.key -set_serial 2 -days $days -extfile ca.ext -out intermediate.crt
openssl ecparam -name prime256v1 -genkey -noout -out leaf.key
openssl req -new -key leaf.key -subj /CN=foo.example.com -out leaf.csr
printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=DNS:foo.example.com,DNS:www.foo.example.com,IP:10.0.0.1\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA intermediate.crt -CAkey intermediate.key -set_serial 3 -days $days -extfile leaf.ext -out leaf.crt
cat intermediate.crt root.crt > cas.pem
# OpenSSL 3's default: PBES2 AES-256-CBC, PBKDF2-SHA256 2048, MAC SHA-256.
openssl pkcs12 -export -inkey leaf.key -in leaf.crt -certfile cas.pem -passout pass:my-password -out modern-pass.p12
# The legacy layout (OpenSSL 1.1's default): certificates under 40-bit RC2,
# the key under 3DES, MAC SHA-1.
openssl pkcs12 -export -legacy -inkey leaf.key -in leaf.crt -certfile cas.pem -passout pass:my-password -out legacy-pass.p12
# No password, no encryption, no MAC.
openssl pkcs12 -export -inkey leaf.key -in leaf.crt -certfile cas.pem -keypbe NONE -certpbe NONE -nomac -passout pass: -out nopass.p12
# An empty password with encryption and MAC.
openssl pkcs12 -export -inkey leaf.key -in leaf.crt -certfile cas.pem -passout pass: -out emptypass.p12
# Iteration counts above kseal's bound (1,000,000).
openssl pkcs12 -export -inkey leaf.key -in leaf.crt -iter 1000000 -maciter -passout pass:my-password -out many-iterations.p12 2>/dev/null || \
openssl pkcs12 -export -inkey leaf.key -in leaf.crt -iter 1000000 -passout pass:my-password -out many-iterations.p12
rm -f intermediate.csr leaf.csr ca.ext leaf.ext root.key intermediate.key
