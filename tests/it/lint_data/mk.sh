#!/bin/bash
# Make one deliberately flawed certificate set with openssl for tests/it/lint.rs.
# usage: mk.sh DIR CASE → DIR/{ca.pem,ca.key,leaf.pem,leaf.key,cl.pem,cl.key}
set -euo pipefail
d=$1; c=$2; mkdir -p $d; cd $d
bits=2048; md=sha256; caext="basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash"
leafext="subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
cadays=3650; leafdays=365; leafv1=0
case $c in
  ok) ;;
  ca-no-keycertsign) caext="basicConstraints=critical,CA:TRUE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash";;
  ca-no-keyusage) caext="basicConstraints=critical,CA:TRUE
subjectKeyIdentifier=hash";;
  ca-no-bc) caext="keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash";;
  ca-bc-not-critical) caext="basicConstraints=CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash";;
  cn-only) leafext="extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid";;
  dns-only) leafext="subjectAltName=DNS:localhost
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid";;
  ip-only) leafext="subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid";;
  sha1) md=sha1;;
  md5) md=md5;;
  rsa1024) bits=1024;;
  v1) leafv1=1;;
  no-aki) leafext="subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=none";;
  ca-no-ski) caext="basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=none
authorityKeyIdentifier=none"; leafext="subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=none";;
  outlives-ca) cadays=30; leafdays=365;;
  missing-intermediate) ;;
  # Docker's guide: `openssl req -new -x509 -days 365` (OpenSSL's v3_ca: no
  # keyUsage) and the server cert signed right after with the same -days.
  docker-recipe) caext="basicConstraints=critical,CA:TRUE
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always,issuer"; cadays=365; leafdays=365;;
  other-ca-same-subject) ;;
  *) echo "unknown case $c" >&2; exit 2;;
esac
printf '[v3]\n%s\n' "$caext" > ca.ext
openssl req -new -newkey rsa:2048 -nodes -keyout ca.key -subj "/CN=lint CA" -out ca.csr 2>/dev/null
openssl x509 -req -in ca.csr -key ca.key -days $cadays -sha256 -extfile ca.ext -extensions v3 -out ca.pem 2>/dev/null
signer=(-CA ca.pem -CAkey ca.key)
if [ "$c" = other-ca-same-subject ]; then
  # A second CA with the very same subject signs the server certificate.
  openssl req -new -newkey rsa:2048 -nodes -keyout ca2.key -subj "/CN=lint CA" -out ca2.csr 2>/dev/null
  openssl x509 -req -in ca2.csr -key ca2.key -days $cadays -sha256 -extfile ca.ext -extensions v3 -out ca2.pem 2>/dev/null
  signer=(-CA ca2.pem -CAkey ca2.key)
fi
if [ "$c" = missing-intermediate ]; then
  # root → intermediate → leaf; the server will send only the leaf.
  openssl req -new -newkey rsa:2048 -nodes -keyout int.key -subj "/CN=lint intermediate" -out int.csr 2>/dev/null
  printf '[v3]\n%s\nauthorityKeyIdentifier=keyid\n' "$caext" > int.ext
  openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1000 -sha256 -extfile int.ext -extensions v3 -out int.pem 2>/dev/null
  signer=(-CA int.pem -CAkey int.key)
fi
openssl req -new -newkey rsa:$bits -nodes -keyout leaf.key -subj "/CN=localhost" -out leaf.csr 2>/dev/null
if [ $leafv1 = 1 ]; then
  openssl x509 -req -in leaf.csr "${signer[@]}" -CAcreateserial -days $leafdays -$md -out leaf.pem 2>/dev/null
else
  printf '[v3]\n%s\n' "$leafext" > leaf.ext
  openssl x509 -req -in leaf.csr "${signer[@]}" -CAcreateserial -days $leafdays -$md -extfile leaf.ext -extensions v3 -out leaf.pem 2>/dev/null
fi
# A valid client certificate from the root, so dctx can import a profile.
openssl req -new -newkey rsa:2048 -nodes -keyout cl.key -subj "/CN=lint client" -out cl.csr 2>/dev/null
printf '[v3]\nextendedKeyUsage=clientAuth\n' > cl.ext
openssl x509 -req -in cl.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 100 -sha256 -extfile cl.ext -extensions v3 -out cl.pem 2>/dev/null
