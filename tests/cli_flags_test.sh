#!/usr/bin/env bash
# The binaries' flags as an operator meets them: `--help` of each lists its
# own flags (absl's default picks flags by the program's file name, and each
# of ours is defined in a main.cc), and a value out of range is refused at
# start with exit code 2 and a message naming the flag and its range, as
# is a port another process holds.
set -u
server="$1"; worker="$2"; cli="$3"
failed=0
help_lists() {  # binary, then flags its --help must list
  local bin="$1"; shift
  local out; out=$("$bin" --help 2>&1)
  for flag in "$@"; do
    if ! grep -q -- "^ *--$flag " <<<"$out"; then
      echo "FAIL: $(basename "$bin") --help does not list --$flag"; failed=1
    fi
  done
}
refuses() {  # binary, bad flag, text the message must hold
  local bin="$1" flag="$2" want="$3"
  local out; out=$(timeout 10 "$bin" --repo=/tmp "$flag" 2>&1); local rc=$?
  if [ $rc -ne 2 ] || ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL: $(basename "$bin") $flag: exit $rc, said: $out (wanted exit 2 and '$want')"; failed=1
  fi
}
help_lists "$server" repo workers max_batch_size metrics_port
help_lists "$worker" repo device max_batch_size max_queue_delay_us progress_stall_s
help_lists "$cli" server model clients duration
refuses "$server" --port=99999 "--port=99999: must be from 0 to 65535"
refuses "$server" --metrics_port=-2 "--metrics_port=-2: must be from -1 to 65535"
refuses "$server" --max_message_mb=4096 "--max_message_mb=4096: must be from 1 to 2047"
refuses "$server" --stream_window=0 "--stream_window=0: must be at least 1"
refuses "$worker" --port=70000 "--port=70000: must be from 0 to 65535"
refuses "$worker" --threads_per_model=0 "--threads_per_model=0: must be from 1 to 256"
refuses "$worker" --max_queue_delay_us=-1 "--max_queue_delay_us=-1: must be at least 0"
refuses "$worker" --progress_stall_s=0 "--progress_stall_s=0: must be from 1 to 86400"
# A port another process holds: refused at start, saying why it might be.
held=$(mktemp)
python3 -c "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)" >"$held" &
holder=$!
for _ in $(seq 50); do [ -s "$held" ] && break; sleep 0.1; done
port=$(cat "$held")
out=$(timeout 10 "$server" --repo=/tmp --port="$port" --metrics_port=-1 --workers=127.0.0.1:1 2>&1); rc=$?
if [ $rc -ne 2 ] || ! grep -qF "cannot listen on 127.0.0.1:$port (the port taken by another process" <<<"$out"; then
  echo "FAIL: v2p-server on a held port: exit $rc, said: $out"; failed=1
fi
kill $holder; rm -f "$held"
[ $failed -eq 0 ] && echo "PASS: --help lists each binary's flags; out-of-range values are refused by name"
exit $failed
