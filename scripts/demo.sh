#!/usr/bin/env bash
# The main job, end to end on the real digit69 fMRI data: install, build,
# train the ridge betas->pixels pipeline, serve it (v2p-server spawning one
# v2p-worker), reconstruct the 10 held-out trials over gRPC, and write the
# images, contact sheet, timings and metrics to out/digit69/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
BIN="${BUILD_DIR:-build}/bin"
DATA="${V2P_DATA_DIR:-../shared/data}"
OUT="${OUT:-out}"
rm -rf "$OUT/repo" "$OUT/digit69"
mkdir -p "$OUT"

echo "== train (local, into $OUT/repo)"
# The example's file is relative to examples/ (../shared beside the
# checkout); with V2P_DATA_DIR elsewhere, a copy names the file there.
DESCRIPTION=examples/digit69_dataset.pbtxt
if [ -n "${V2P_DATA_DIR:-}" ]; then
  DESCRIPTION="$OUT/digit69_dataset.pbtxt"
  sed "s|\.\./\.\./shared/data|$(cd "$DATA" && pwd)|" examples/digit69_dataset.pbtxt >"$DESCRIPTION"
fi
"$BIN/v2p" train --dataset "$DESCRIPTION" --spec examples/digit69_ridge.pbtxt \
  --repo "$OUT/repo" --model digit69_ridge

echo "== serve"
PORT_FILE="$OUT/server.port"
rm -f "$PORT_FILE"
"$BIN/v2p-server" --repo "$OUT/repo" --port 0 --metrics_port 0 --workers spawn:1 --ready_fd 3 \
  3>"$PORT_FILE" 2>"$OUT/server.log" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  [ -s "$PORT_FILE" ] && break
  kill -0 $SERVER_PID 2>/dev/null || { cat "$OUT/server.log"; exit 1; }
  sleep 0.1
done
# The ready line is "<gRPC port> <metrics port>".
read -r GRPC_PORT METRICS_PORT < "$PORT_FILE"
ADDR="127.0.0.1:$GRPC_PORT"
echo "v2p-server at $ADDR, metrics at http://127.0.0.1:$METRICS_PORT/metrics (log: $OUT/server.log)"

echo "== models"
"$BIN/v2p" models list --server "$ADDR"

echo "== reconstruct the digit69 test betas over gRPC"
"$BIN/v2p" reconstruct --server "$ADDR" --model digit69_ridge \
  --betas "$DATA/digit69/digit69_28x28.mat" --var fmriTest --stimuli-var stimTest \
  --out "$OUT/digit69"
echo
echo "contact sheet (stimuli above reconstructions): $OUT/digit69/contact_sheet.png"
