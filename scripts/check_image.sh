#!/usr/bin/env bash
# Builds the image of ./Dockerfile and checks it as an operator would:
# it runs as a non-root user, every binary finds its shared libraries, no
# -dev package is installed, the CLI in the image trains digit69 into a
# mounted repository, the default command serves it (one spawned worker),
# the CLI reconstructs the test trials over gRPC, the metrics endpoint is
# published (and passes `promtool check metrics` when promtool is here),
# and `docker stop` ends it cleanly. Then, as on Kubernetes, worker
# containers share a name in a Docker network (Docker's DNS answers every
# address of it, as for a headless Service) and a server finds them with
# --workers=dns:///: a worker added is found and one stopped is dropped,
# and requests keep being answered. Server and workers run with the
# command lines of deploy/k8s/base (rendered by kubectl kustomize, $(VAR)s
# filled from its ConfigMap), so a flag the binaries do not know fails
# here. Needs a running Docker engine; not part of the test suite (a cold
# image build takes minutes and CI has no engine).
#
#   scripts/check_image.sh [--offline-base] [--keep]
#     --offline-base  no registry is reachable: make the debian:12 and
#                     debian:12-slim base images from Debian's mirror with
#                     debootstrap (installed with apt-get) when missing.
#     --keep          leave the image voxel2pixel:check behind.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${V2P_DATA_DIR:-$(cd .. && pwd)/shared/data}"
offline=0 keep=0
for a in "$@"; do
  case "$a" in
    --offline-base) offline=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: $0 [--offline-base] [--keep]" >&2; exit 2 ;;
  esac
done
[ -f "$data/digit69/digit69_28x28.mat" ] || { echo "FAIL: no digit69 under $data (set V2P_DATA_DIR)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "FAIL: no Docker engine answers (start dockerd)" >&2; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

if [ $offline -eq 1 ] && ! docker image inspect debian:12 >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || $sudo apt-get install -y --no-install-recommends debootstrap
  root=$(mktemp -d)
  $sudo debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
  $sudo rm -f "$root/etc/apt/sources.list"
  $sudo tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  $sudo rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  $sudo tar -C "$root" -c . | docker import - debian:12
  docker tag debian:12 debian:12-slim
  $sudo rm -rf "$root"
fi

image=voxel2pixel:check
# The legacy builder when the buildx plugin is missing.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
start=$(date +%s)
docker build -t "$image" . >/tmp/v2p-image-build.log 2>&1 || {
  tail -30 /tmp/v2p-image-build.log; echo "FAIL: docker build (log: /tmp/v2p-image-build.log)"; exit 1; }
echo "built $image in $(( $(date +%s) - start )) s: $(docker image inspect "$image" --format '{{.Size}}' | awk '{printf "%.2f GB", $1/1e9}')"

work=$(mktemp -d)
name="v2p-check-$$"
net="$name-net"
cleanup() {
  docker rm -f "$name" "$name-s" "$name-w1" "$name-w2" "$name-w3" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  [ $keep -eq 1 ] || docker rmi "$image" >/dev/null 2>&1 || true
  $sudo rm -rf "$work"
}
trap cleanup EXIT
# Fails with the last lines of every container of this run (cleanup
# removes them).
fail() {
  echo "FAIL: $*"
  for c in "$name" "$name-s" "$name-w1" "$name-w2" "$name-w3"; do
    docker inspect "$c" >/dev/null 2>&1 || continue
    echo "--- docker logs --tail 15 $c"
    docker logs --tail 15 "$c" 2>&1
  done
  exit 1
}
run() { docker run --rm --entrypoint "$@"; }
# The host port that container $1 publishes its metrics port 8501 on.
metrics_port_of() { docker port "$1" 8501/tcp | head -1 | sed 's/.*://'; }

[ "$(run id "$image" -u)" = 10001 ] || fail "the image does not run as uid 10001"
missing=$(run sh "$image" -c 'ldd /usr/local/bin/v2p-server /usr/local/bin/v2p-worker /usr/local/bin/v2p /usr/local/bin/v2p-lab | grep -c "not found" || true')
[ "$missing" = 0 ] || fail "$missing shared libraries not found in the runtime image"
dev=$(run sh "$image" -c 'dpkg-query -W -f "\${Package}\n" | grep -c -- "-dev$" || true')
[ "$dev" = 0 ] || fail "$dev -dev packages in the runtime image"
echo "PASS: runs as uid 10001; all libraries of v2p-server, v2p-worker, v2p, v2p-lab found; no -dev package"

mkdir -p "$work/repo" && $sudo chown 10001 "$work/repo"
# The example's file is relative to examples/ (../../shared/data): mounted
# at /examples, that is /shared/data.
docker run --rm -v "$work/repo:/repo" -v "$data:/shared/data:ro" -v "$PWD/examples:/examples:ro" \
  --entrypoint v2p "$image" train --dataset /examples/digit69_dataset.pbtxt \
  --spec /examples/digit69_ridge.pbtxt --repo /repo --model digit69 |
  tail -1
docker run -d --name "$name" -p 127.0.0.1::8500 -p 127.0.0.1::8501 -v "$work/repo:/repo" \
  -v "$data:/data:ro" "$image" >/dev/null
metrics_port=$(metrics_port_of "$name")
for _ in $(seq 60); do
  docker exec "$name" v2p models list --server 127.0.0.1:8500 >/dev/null 2>&1 && break
  sleep 1
done
docker exec "$name" v2p models list --server 127.0.0.1:8500 || fail "the server did not answer"
docker exec "$name" v2p reconstruct --server 127.0.0.1:8500 --model digit69 \
  --betas /data/digit69/digit69_28x28.mat --var fmriTest --stimuli-var stimTest --out /repo/out |
  grep -E "PCC|digit69 v1" || fail "reconstruction over gRPC failed"
[ "$(ls "$work/repo/out"/*.png | wc -l)" -ge 10 ] || fail "fewer than 10 images written"
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.txt" || fail "no metrics on the published port"
grep -q '^v2p_worker_up{worker="0"} 1' "$work/metrics.txt" || fail "the spawned worker is not up"
if command -v promtool >/dev/null; then
  promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
fi
echo "PASS: trained, served and reconstructed 10 digit69 trials over gRPC in the image; metrics published"
docker stop "$name" >/dev/null
code=$(docker inspect "$name" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || fail "v2p-server exited $code on docker stop"
echo "PASS: docker stop ends v2p-server and its worker with exit code 0"

# The headless Service, in Docker, with the manifests' command lines.
command -v kubectl >/dev/null || $sudo apt-get install -y --no-install-recommends kubectl
python3 -c 'import yaml' 2>/dev/null || $sudo apt-get install -y --no-install-recommends python3-yaml
kubectl kustomize deploy/k8s/base 2>/dev/null >"$work/base.yaml"
# The args of the container named $1, one per line, $(VAR)s filled in.
manifest_args() {
  python3 - "$work/base.yaml" "$1" <<'PY'
import re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
env = {}
for d in docs:
    if d["kind"] == "ConfigMap":
        env.update(d.get("data", {}))
for d in docs:
    for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
        if c["name"] == sys.argv[2]:
            for a in c.get("args", []):
                print(re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a))
PY
}
mapfile -t server_args < <(manifest_args server)
mapfile -t worker_args < <(manifest_args worker)
[ ${#server_args[@]} -gt 0 ] && [ ${#worker_args[@]} -gt 0 ] || fail "no server or worker args in deploy/k8s/base"
echo "  server: ${server_args[*]}"
echo "  worker: ${worker_args[*]}"
# The Secrets the manifests mount (TLS, tokens), as scripts/k8s_secrets.sh
# makes them, laid out as Kubernetes mounts them; readable by uid 10001.
scripts/k8s_secrets.sh "$work/secrets" >/dev/null
mkdir -p "$work/mnt/server-tls" "$work/mnt/worker-tls" "$work/mnt/ca" "$work/mnt/tokens"
for who in server worker; do
  cp "$work/secrets/$who.crt" "$work/mnt/$who-tls/tls.crt"
  cp "$work/secrets/$who.key" "$work/mnt/$who-tls/tls.key"
done
cp "$work/secrets/ca.crt" "$work/mnt/ca/"
cp "$work/secrets/tokens" "$work/mnt/tokens/"
chmod -R a+rX "$work/mnt"
docker network create "$net" >/dev/null
worker() {
  docker run -d --name "$name-w$1" --network "$net" --network-alias v2p-worker \
    -v "$work/repo:/repo" -v "$work/mnt/worker-tls:/tls:ro" -v "$work/mnt/ca:/ca:ro" \
    --entrypoint v2p-worker "$image" "${worker_args[@]}" >/dev/null
}
worker 1
worker 2
docker run -d --name "$name-s" --network "$net" -p 127.0.0.1::8501 -v "$work/repo:/repo" \
  -v "$data:/data:ro" -v "$work/mnt/server-tls:/tls:ro" -v "$work/mnt/ca:/ca:ro" \
  -v "$work/mnt/tokens:/tokens:ro" "$image" "${server_args[@]}" >/dev/null
metrics_port=$(metrics_port_of "$name-s")
workers_up() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" | grep -c '^v2p_worker_up{.*} 1$' || true
}
# Waits up to 60 s (the server re-resolves every 10 s) for `$1` workers up.
wait_up() {
  local since=$SECONDS
  for _ in $(seq 120); do
    if [ "$(workers_up)" = "$1" ]; then
      echo "  $1 workers up after $(( SECONDS - since )) s"
      return 0
    fi
    sleep 0.5
  done
  fail "$(workers_up) workers up, expected $1"
}
reconstruct() {
  docker exec -e V2P_TLS_CA=/ca/ca.crt -e "V2P_TOKEN=$(cat "$work/secrets/admin.token")" \
    "$name-s" v2p reconstruct --server 127.0.0.1:8500 --model digit69 \
    --betas /data/digit69/digit69_28x28.mat --var fmriTest --out "/repo/out-$1" >/dev/null ||
    fail "reconstruction with $1 workers"
}
wait_up 2
reconstruct 2
worker 3
wait_up 3
reconstruct 3
docker stop "$name-w1" >/dev/null
wait_up 2
reconstruct 2-after-stop
echo "PASS: dns:///v2p-worker:8600 found 2 workers, then a third added, then dropped one stopped; each time the 10 trials were reconstructed"
