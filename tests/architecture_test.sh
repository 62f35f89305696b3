#!/usr/bin/env bash
# Fails when a layer reaches where DESIGN.md §3 says it must not.
set -u
src="$1"; server_bin="$2"; failed=0
if grep -rnE '#include [<"](grpc|grpcpp|google/protobuf|voxel2pixel/|prometheus)' "$src/core"; then
  echo "FAIL: core/ includes gRPC, protobuf, Prometheus or generated API headers (above)"; failed=1
fi
if grep -rnE '#include [<"](torch|ATen|c10|core/)' "$src/server"; then
  echo "FAIL: server/ includes LibTorch or core/ headers (above)"; failed=1
fi
if ldd "$server_bin" | grep -E 'libtorch|libc10'; then
  echo "FAIL: $server_bin links LibTorch (above)"; failed=1
fi
[ $failed -eq 0 ] && echo "PASS: core/ free of gRPC/protobuf; v2p-server free of LibTorch"
exit $failed
