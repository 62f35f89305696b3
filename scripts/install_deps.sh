#!/usr/bin/env bash
# Installs every Debian 12 package that voxel2pixel's build, tests and demo need.
# Uses sudo when not root. Safe to run repeatedly.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  # the format check (tests: style.clang_format); version 14 is the one .clang-format was set with
  clang-format-14
  # gRPC 1.51 + Protobuf 3.21, health.proto / reflection.proto
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  # LibTorch 1.13 CPU; OpenBLAS so its matrix products do not run on the reference BLAS
  libtorch-dev libopenblas0-pthread libopenblas-dev
  # numerics, images, data formats
  libeigen3-dev libabsl-dev libopencv-dev libmatio-dev libhdf5-dev libnifti2-dev zlib1g-dev libpng-dev
  # the feature network's second corpus (70,000 Fashion-MNIST images)
  dataset-fashion-mnist
  # metrics, tests
  prometheus-cpp-dev libgtest-dev libgmock-dev googletest
  # SHA-256 of uploads
  libssl-dev
  # the real Prometheus server and promtool for the monitoring tests; curl for its HTTP API
  prometheus curl
  # the demo's JSON/table printing; numpy for bench/fastl2lir_bench's reference
  python3 python3-numpy
  # bench/shen_inversion_bench: the reference algorithm in Python PyTorch (shares libtorch1.13)
  python3-torch
  # the Python client (client/python) and its test
  python3-grpcio python3-protobuf python3-tqdm
  # a real browser loads v2p evaluate's report.html in a test (tests/python/report_test.py)
  chromium
)

# kubectl renders deploy/k8s in a test; Debian's comes in kubernetes-client.
# A machine that already has a kubectl (another vendor's package) keeps it.
if ! command -v kubectl >/dev/null 2>&1; then
  PACKAGES+=(kubernetes-client)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
