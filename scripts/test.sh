#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test registered with CTest
# (unit, integration over real gRPC, layering check, benchmark smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j "${TEST_JOBS:-2}"
