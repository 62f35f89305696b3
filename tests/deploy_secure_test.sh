#!/usr/bin/env bash
# The Kubernetes configuration in miniature, with real processes: the
# certificates and tokens scripts/k8s_secrets.sh makes, a v2p-worker with
# the StatefulSet's TLS flags and a v2p-server with the Deployment's, on
# loopback; the probes' `v2p health` passes; a client needs the CA and a
# token; the worker refuses a client without the deployment's certificate.
#   deploy_secure_test.sh SOURCE_DIR BIN_DIR
set -u
src="$1"; bin="$2"
work="$(mktemp -d /tmp/v2p-deploy-secure-XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait; rm -rf "$work"; }
trap cleanup EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
"$src/scripts/k8s_secrets.sh" "$work/s" test > /dev/null || { echo "FAIL: k8s_secrets.sh"; exit 1; }
s="$work/s"
mkdir -p "$work/repo"
# Waits (up to 60 s) until FILE holds a port, which --ready_fd writes once
# the process listens.
port_of() {
  for _ in $(seq 600); do
    [ -s "$1" ] && { cut -d' ' -f1 < "$1"; return 0; }
    sleep 0.1
  done
  return 1
}
"$bin/v2p-worker" --repo="$work/repo" --port=0 --metrics_port=-1 --device=cpu --ready_fd=3 \
  --tls_cert="$s/worker.crt" --tls_key="$s/worker.key" --tls_client_ca="$s/ca.crt" \
  3> "$work/worker.port" 2> "$work/worker.log" &
pids+=($!)
wport=$(port_of "$work/worker.port") || { cat "$work/worker.log"; echo "FAIL: worker did not start"; exit 1; }
"$bin/v2p-server" --repo="$work/repo" --port=0 --metrics_port=-1 --ready_fd=3 \
  --workers="127.0.0.1:$wport" --tls_cert="$s/server.crt" --tls_key="$s/server.key" \
  --worker_tls_ca="$s/ca.crt" --worker_tls_cert="$s/server.crt" --worker_tls_key="$s/server.key" \
  --worker_tls_server_name=v2p-worker --auth_tokens="$s/tokens" \
  3> "$work/server.port" 2> "$work/server.log" &
pids+=($!)
sport=$(port_of "$work/server.port") || { cat "$work/server.log"; echo "FAIL: server did not start"; exit 1; }

# The server's readiness probe: SERVING once the worker is reached over mutual TLS.
ready=1
for _ in $(seq 300); do
  V2P_TLS_CA="$s/ca.crt" "$bin/v2p" health --server "127.0.0.1:$sport" \
    --service voxel2pixel.v1.Reconstruction > /dev/null 2>&1 && { ready=0; break; }
  sleep 0.1
done
[ $ready -eq 0 ] || { cat "$work/server.log"; fail "server readiness probe never passed"; }
V2P_TLS_CA="$s/ca.crt" "$bin/v2p" health --server "127.0.0.1:$sport" > /dev/null 2>&1 \
  || fail "server liveness probe"
# The worker's probe presents the worker's own certificate; nothing else gets in.
V2P_TLS_CA="$s/ca.crt" V2P_TLS_CERT="$s/worker.crt" V2P_TLS_KEY="$s/worker.key" \
  "$bin/v2p" health --server "127.0.0.1:$wport" > /dev/null 2>&1 || fail "worker probe"
V2P_TLS_CA="$s/ca.crt" "$bin/v2p" health --server "127.0.0.1:$wport" --deadline_s 5 \
  > /dev/null 2>&1 && fail "the worker served a client with no certificate"
"$bin/v2p" health --server "127.0.0.1:$sport" --deadline_s 5 > /dev/null 2>&1 \
  && fail "the server answered a plaintext client"
# A client needs the CA and a token.
out=$(V2P_TLS_CA="$s/ca.crt" "$bin/v2p" models list --server "127.0.0.1:$sport" 2>&1) \
  && fail "models list without a token succeeded"
grep -q UNAUTHENTICATED <<<"$out" || fail "no token: expected UNAUTHENTICATED, got: $out"
V2P_TLS_CA="$s/ca.crt" V2P_TOKEN="$(cat "$s/admin.token")" "$bin/v2p" models list \
  --server "127.0.0.1:$sport" > /dev/null 2>&1 || fail "models list with the admin token"
grep -q "$(cat "$s/admin.token")" "$work/server.log" "$work/worker.log" \
  && fail "a token was logged"
[ $failed -eq 0 ] && echo "PASS: k8s_secrets.sh's certificates and tokens serve over TLS and mutual TLS"
exit $failed
