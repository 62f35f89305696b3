#!/usr/bin/env bash
# Installs dependencies (Debian 12) and builds voxel2pixel into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-2}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DV2P_DATA_DIR="${V2P_DATA_DIR:-$PWD/../shared/data}"
cmake --build "$BUILD_DIR" -j "$JOBS"
