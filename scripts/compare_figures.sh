#!/usr/bin/env bash
# Behaviour preserved across a refactor: trains the deterministic digit69
# pipelines (ridge, eigenface, feature ridge, feature SMR) with two builds'
# `v2p` on the same data and the same feature network, and compares every
# recorded evaluation figure of the two manifests to 1e-6.
#   scripts/compare_figures.sh OLD_BIN_DIR NEW_BIN_DIR [DATA_ROOT]
# The feature network (1 epoch, 2,000 Fashion-MNIST images) is trained once,
# by NEW_BIN_DIR/v2p, and copied into both repositories.
set -euo pipefail
old="$1"; new="$2"
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/v2p-compare-XXXXXX)"
trap 'rm -rf "$work"' EXIT
"$new/v2p" features train --repo "$work/net" --epochs 1 --max_fashion_train 2000 \
  ${3:+--data_root "$3"} > "$work/net.log" 2>&1 || { cat "$work/net.log"; exit 1; }
specs="digit69_ridge digit69_eigenface digit69_features_ridge digit69_features_smr"
for which in old new; do
  bin="$old"; [ "$which" = new ] && bin="$new"
  mkdir -p "$work/$which"
  cp -r "$work/net/feature_networks" "$work/$which/"
  for spec in $specs; do
    "$bin/v2p" train --dataset "$src/examples/digit69_dataset.pbtxt" \
      --spec "$src/examples/$spec.pbtxt" --repo "$work/$which" --model "$spec" \
      > "$work/$which-$spec.log" 2>&1 || { cat "$work/$which-$spec.log"; exit 1; }
  done
done
python3 - "$work" $specs <<'PY'
import sys
work, specs = sys.argv[1], sys.argv[2:]
def figures(which, spec):
    out = {}
    for line in open(f"{work}/{which}/models/{spec}/1/manifest.txt"):
        key, _, value = line.partition(": ")
        if key.startswith(("eval.metric.", "eval.baseline.")):
            out[key] = float(value)
    return out
failed = 0
for spec in specs:
    old, new = figures("old", spec), figures("new", spec)
    worst = max((abs(old[k] - new.get(k, float("inf"))) for k in old), default=0.0)
    missing = sorted(set(old) ^ set(new))
    ok = worst <= 1e-6 and not missing
    failed |= not ok
    shown = {k: new[k] for k in ("eval.metric.pcc", "eval.metric.nmse") if k in new}
    print(f"{spec}: {len(old)} figures, largest difference {worst:.3g}"
          f"{', keys differ: ' + ', '.join(missing) if missing else ''} {shown} "
          f"{'SAME' if ok else 'DIFFERENT'}")
sys.exit(failed)
PY
