#!/usr/bin/env bash
# Makes what deploy/k8s/base needs to run with TLS and tokens, into DIR:
#   ca.crt, ca.key          a CA of its own (keep ca.key offline)
#   server.crt, server.key  the gateway: serves clients TLS and presents
#                           itself to workers (serverAuth + clientAuth)
#   worker.crt, worker.key  the workers (v2p-worker, *.v2p-worker, ...)
#   tokens                  the tokens file: the hash of one admin token
#   admin.token             that token (give it to the operator, not the pod)
# and the Secrets as kubectl manifests in DIR/secrets.yaml.
#   scripts/k8s_secrets.sh DIR [NAMESPACE]
# then: kubectl apply -f DIR/secrets.yaml && kubectl apply -k deploy/k8s/base
# A lab's token: `openssl rand -hex 32`; its line in `tokens`:
#   "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1) LAB reconstruct,train"
set -euo pipefail
dir="${1:?usage: k8s_secrets.sh DIR [NAMESPACE]}"
namespace="${2:-default}"
mkdir -p "$dir"
cd "$dir"
days=825
openssl req -x509 -newkey rsa:3072 -nodes -keyout ca.key -out ca.crt -days 3650 \
  -subj /CN=voxel2pixel-ca 2>/dev/null
sign() {  # sign NAME SUBJECT_ALT_NAMES
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$2" > "$1.ext"
  openssl req -newkey rsa:3072 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" \
    -days "$days" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
sign server "DNS:v2p-server,DNS:v2p-server.$namespace.svc,DNS:localhost,IP:127.0.0.1"
sign worker "DNS:v2p-worker,DNS:*.v2p-worker,DNS:*.v2p-worker.$namespace.svc,DNS:localhost,IP:127.0.0.1"
token="$(openssl rand -hex 32)"
printf '%s\n' "$token" > admin.token
chmod 600 admin.token ca.key server.key worker.key
{
  echo "# sha256(token) lab roles"
  echo "$(printf %s "$token" | sha256sum | cut -d' ' -f1) operators admin"
} > tokens
b64() { base64 -w0 < "$1"; }
secret() {  # secret NAME KEY=FILE...
  local name="$1"; shift
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\ndata:\n' \
    "$name" "$namespace"
  for pair in "$@"; do printf '  %s: %s\n' "${pair%%=*}" "$(b64 "${pair#*=}")"; done
}
{
  secret v2p-ca ca.crt=ca.crt
  secret v2p-server-tls tls.crt=server.crt tls.key=server.key
  secret v2p-worker-tls tls.crt=worker.crt tls.key=worker.key
  secret v2p-tokens tokens=tokens
} > secrets.yaml
echo "wrote $dir: CA, server and worker certificates, tokens, secrets.yaml"
echo "admin token in $dir/admin.token (clients: V2P_TOKEN=\$(cat admin.token) V2P_TLS_CA=ca.crt)"
