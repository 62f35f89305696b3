#!/usr/bin/env bash
# `--help` of each binary lists its own flags (absl's default picks flags by
# the program's file name, and each of ours is defined in a main.cc).
set -u
failed=0
check() {  # binary, then flags its --help must list
  local bin="$1"; shift
  local out; out=$("$bin" --help 2>&1)
  for flag in "$@"; do
    if ! grep -q -- "^ *--$flag " <<<"$out"; then
      echo "FAIL: $(basename "$bin") --help does not list --$flag"; failed=1
    fi
  done
}
check "$1" repo workers max_batch_size metrics_port
check "$2" repo device max_batch_size max_queue_delay_us
check "$3" server model clients duration
[ $failed -eq 0 ] && echo "PASS: --help lists each binary's flags"
exit $failed
