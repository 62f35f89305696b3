#!/usr/bin/env bash
# Builds test binaries with clang, AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer, in the build directory scripts/fuzz.sh uses
# (build-fuzz), runs each, and prints per binary its tests' result and the
# sanitizer reports it printed. Exit 1 when one failed or reported.
#   scripts/sanitize_tests.sh [--build-only] [TARGET...]    (default: the list below)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${V2P_FUZZ_BUILD:-$root/build-fuzz}
sanitize="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DV2P_FUZZ=ON \
    -DCMAKE_C_FLAGS="$sanitize" -DCMAKE_CXX_FLAGS="$sanitize" > "$build.configure.log" 2>&1 ||
    { tail -20 "$build.configure.log"; exit 1; }
fi
build_only=0
if [ "${1:-}" = --build-only ]; then build_only=1; shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  # Every unit-test binary (the end-to-end ones: scripts/sanitize_e2e.sh).
  targets=(server_auth_test store_test spec_rules_test proto_test
           server_reconstruction_service_test server_request_coalescer_test
           server_worker_pool_test core_data_test core_decoding_test core_evaluation_test
           core_pipeline_test core_features_test core_generation_test core_fattention_test
           workers_batcher_test workers_registry_test client_report_test client_bundle_test
           core_shen_test)
fi
cmake --build "$build" -j2 --target "${targets[@]}" || exit 1
[ $build_only -eq 1 ] && exit 0
status=0
printf '%-36s %8s  %s\n' binary seconds result
for t in "${targets[@]}"; do
  log=$(mktemp)
  start=$(date +%s)
  (cd "$build" && "$build/bin/$t" > "$log" 2>&1)
  rc=$?
  reports=$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log")
  result=$(grep -E '^\[  (PASSED|FAILED)  \]' "$log" | tr -s ' ' | tr '\n' ' ')
  if [ $rc -ne 0 ] || [ "$reports" -ne 0 ]; then
    status=1; result="$result rc=$rc, $reports sanitizer reports (see $log)"
  else
    rm -f "$log"
  fi
  printf '%-36s %8s  %s\n' "$t" "$(( $(date +%s) - start ))" "$result"
done
exit $status
