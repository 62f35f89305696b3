#!/usr/bin/env bash
# The end-to-end tests against sanitized servers and CLIs: builds v2p-server,
# v2p-worker, v2p, v2p-lab and v2p-nearest-worker with clang, ASan and UBSan
# in build-fuzz (as scripts/sanitize_tests.sh does), then runs each
# end-to-end test binary of the ordinary build (build/bin, which must exist)
# with V2P_BIN_DIR pointing at the sanitized ones, so that every process
# the tests start is sanitized. Every process writes its sanitizer reports
# to one folder; prints, per binary, its tests' result and the reports
# found. Exit 1 when one failed or any report was written. Leak checking is
# off: the servers' memory at shutdown is not checked here.
#   scripts/sanitize_e2e.sh [TEST_BINARY...]    (default: every *integration_test)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${V2P_FUZZ_BUILD:-$root/build-fuzz}
plain=${V2P_BUILD:-$root/build}
"$root/scripts/sanitize_tests.sh" --build-only v2p-server v2p-worker v2p v2p-lab \
  v2p-nearest-worker || exit 1
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for t in "$plain"/bin/*integration_test; do tests+=("$(basename "$t")"); done
fi
reports=$(mktemp -d)
export V2P_BIN_DIR="$build/bin"
export ASAN_OPTIONS="detect_leaks=0:log_path=$reports/report"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports/report"
status=0
printf '%-40s %8s  %s\n' binary seconds result
for t in "${tests[@]}"; do
  log=$(mktemp)
  start=$(date +%s)
  (cd "$plain/tests" && "$plain/bin/$t" > "$log" 2>&1)
  rc=$?
  found=$(ls "$reports" | wc -l)
  result=$(grep -E '^\[  (PASSED|FAILED)  \]' "$log" | tr -s ' ' | tr '\n' ' ')
  if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
    status=1; result="$result rc=$rc, $found sanitizer reports so far in $reports (log $log)"
  else
    rm -f "$log"
  fi
  printf '%-40s %8s  %s\n' "$t" "$(( $(date +%s) - start ))" "$result"
done
[ $status -eq 0 ] && rm -rf "$reports"
exit $status
