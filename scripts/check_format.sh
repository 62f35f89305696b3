#!/usr/bin/env bash
# Fails when a C++ file differs from what clang-format makes of it under the
# repository's .clang-format, and names each such file with its first diff.
#   scripts/check_format.sh ROOT            every *.cc / *.h tracked by git
#                                           (or found, outside a git checkout)
#   scripts/check_format.sh ROOT FILE...    those files, read as C++
# The formatter is clang-format 14 (Debian 12's); another major version
# formats some constructs differently, so it is preferred by name.
set -euo pipefail
root="$1"; shift
fmt="$(command -v clang-format-14 || command -v clang-format || true)"
if [ -z "$fmt" ]; then
  echo "check_format: clang-format is not installed (scripts/install_deps.sh installs it)" >&2
  exit 2
fi
cd "$root"
if [ "$#" -gt 0 ]; then
  files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h')
else
  mapfile -t files < <(find . -path ./build -prune -o \( -name '*.cc' -o -name '*.h' \) -print)
fi
bad=0
for f in "${files[@]}"; do
  # Named as itself (its main header sorts first), as a .cc when it is not C++.
  name="$f"; case "$f" in *.cc|*.h) ;; *) name="$f.cc" ;; esac
  if ! diff -q "$f" <("$fmt" --style=file --assume-filename="$name" < "$f") >/dev/null; then
    bad=$((bad + 1))
    echo "not formatted: $f"
    diff "$f" <("$fmt" --style=file --assume-filename="$name" < "$f") | head -8 | sed 's/^/    /'
  fi
done
echo "check_format: ${#files[@]} files, $bad not formatted ($("$fmt" --version | head -1))"
if [ "$bad" -ne 0 ]; then
  echo "fix with: git ls-files '*.cc' '*.h' | xargs $(basename "$fmt") -i" >&2
  exit 1
fi
