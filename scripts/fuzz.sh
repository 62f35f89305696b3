#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer in a build directory of their own, then
# runs each for RUNS executions (default 1000000) from the seeds in
# examples/ and prints, per harness, the executions done and whether it
# crashed. Exit 1 when one crashed (its input is left in the work folder).
#   scripts/fuzz.sh [RUNS]        (V2P_FUZZ_BUILD: build dir, default build-fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-1000000}
build=${V2P_FUZZ_BUILD:-$root/build-fuzz}
sanitize="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DV2P_FUZZ=ON \
    -DCMAKE_C_FLAGS="$sanitize" -DCMAKE_CXX_FLAGS="$sanitize" > "$build.configure.log" 2>&1 ||
    { tail -20 "$build.configure.log"; exit 1; }
fi
cmake --build "$build" -j2 --target fuzz_npy fuzz_mat fuzz_zip fuzz_image fuzz_matrix fuzz_spec fuzz_request
work=$(mktemp -d)
status=0
printf '%-14s %12s %8s  %s\n' harness executions seconds result
for t in npy mat zip image matrix spec request; do
  corpus="$work/$t"
  mkdir -p "$corpus"
  [ "$t" = spec ] && cp "$root"/examples/*.pbtxt "$corpus"/
  [ "$t" = zip ] && python3 "$root/tests/fuzz/make_seeds.py" "$corpus" zip
  [ "$t" = npy ] && python3 "$root/tests/fuzz/make_seeds.py" "$corpus" npy
  [ "$t" = image ] && python3 "$root/tests/fuzz/make_seeds.py" "$corpus" image
  if [ "$t" = matrix ]; then
    python3 "$root/tests/fuzz/make_seeds.py" "$corpus" npy
    python3 "$root/tests/fuzz/make_seeds.py" "$corpus" zip
  fi
  start=$(date +%s)
  max_len=4096
  [ "$t" = matrix ] && max_len=16384 && cp "$root"/tests/fuzz/seeds/bdata.h5 "$corpus"/
  if (cd "$work" && LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp" \
        "$build/bin/fuzz_$t" -runs="$runs" -max_len="$max_len" -timeout=10 \
        -rss_limit_mb=4096 -print_final_stats=1 "$corpus" > "$work/$t.log" 2>&1); then
    result="no crash"
  else
    result="CRASH (see $work/$t.log)"; status=1
  fi
  done_runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo 0)
  printf '%-14s %12s %8s  %s\n' "fuzz_$t" "$done_runs" "$(( $(date +%s) - start ))" "$result"
done
[ $status -eq 0 ] && rm -rf "$work"
exit $status
