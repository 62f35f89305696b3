#!/usr/bin/env bash
# The Dockerfile's runtime stage, checked without a Docker engine (none runs
# on the development or CI machines): every shared library that the built
# v2p-server, v2p-worker, v2p and v2p-lab link directly comes from a Debian package
# the stage installs, or one those packages depend on, or one every Debian
# image has (Priority: required); the stage installs no -dev package, runs as
# a non-root user and copies every binary.
# Usage: docker_runtime_test.sh SOURCE_DIR BINARY...
set -u
src="$1"; shift
dockerfile="$src/Dockerfile"
failed=0

# The runtime stage: from its FROM line to the end of the file.
stage=$(awk '/^FROM / { in_stage = ($0 ~ / AS runtime$/) } in_stage' "$dockerfile")
[ -n "$stage" ] || { echo "FAIL: $dockerfile has no 'FROM ... AS runtime' stage"; exit 1; }

# Package names of its apt-get install: the words after "install" up to the
# next "&&", flags left out.
packages=$(tr '\n' ' ' <<<"$stage" | sed 's/\\ / /g' |
  grep -o 'apt-get install[^&]*' | sed 's/apt-get install//' | tr ' ' '\n' |
  grep -v '^-' | grep -v '^$' | sort -u)
[ -n "$packages" ] || { echo "FAIL: the runtime stage installs no packages"; exit 1; }
if grep -q -- '-dev$' <<<"$packages"; then
  echo "FAIL: the runtime stage installs -dev packages: $(grep -- '-dev$' <<<"$packages" | tr '\n' ' ')"
  failed=1
fi
user=$(awk '/^USER /{ u = $2 } END { print u }' <<<"$stage")
if [ -z "$user" ] || [ "$user" = root ] || [ "$user" = 0 ]; then
  echo "FAIL: the runtime stage runs as root (USER '${user}')"; failed=1
fi
for binary in "$@"; do
  name=$(basename "$binary")
  grep -q "^COPY --from=build .*/$name[ ]" <<<"$stage" ||
    grep -q "^COPY --from=build .*/$name /" <<<"$stage" ||
    { echo "FAIL: the runtime stage does not copy $name"; failed=1; }
done

# What those packages bring, from the local apt lists.
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $packages 2>/dev/null | grep -v '^ ' | tr -d '<>' | sort -u)
if [ -z "$closure" ]; then
  echo "FAIL: apt-cache knows none of: $(tr '\n' ' ' <<<"$packages")(run apt-get update)"
  exit 1
fi
required=$(dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }')
provided=$(printf '%s\n%s\n' "$closure" "$required" | sort -u)

checked=0
for binary in "$@"; do
  [ -x "$binary" ] || { echo "FAIL: $binary is not built"; failed=1; continue; }
  needed=$(readelf -d "$binary" | awk -F'[][]' '/\(NEEDED\)/ { print $2 }')
  for lib in $needed; do
    path=$(ldd "$binary" | awk -v lib="$lib" '$1 == lib { print $3 }')
    if [ -z "$path" ] || [ "$path" = "not" ]; then
      echo "FAIL: $(basename "$binary") needs $lib, which is not found here"; failed=1; continue
    fi
    owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$owner" ] || owner=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
    if [ -z "$owner" ]; then
      echo "FAIL: $(basename "$binary") needs $lib ($path), which no Debian package installed"
      failed=1; continue
    fi
    if ! grep -qx "$owner" <<<"$provided"; then
      echo "FAIL: $(basename "$binary") needs $lib from $owner, which the runtime stage does not install"
      failed=1
    fi
    checked=$((checked + 1))
  done
done
[ $failed -eq 0 ] && echo "PASS: $checked linked libraries of $# binaries all come from the runtime stage's" \
  "$(wc -l <<<"$packages") packages, their dependencies or required ones; no -dev; USER $user"
exit $failed
