#!/usr/bin/env bash
# deploy/: kustomize renders the base and the GPU overlay with the kinds an
# operator needs, and the PrometheusRule matches deploy/prometheus/alerts.yml.
set -u
src="$1"; failed=0
base=$(kubectl kustomize "$src/deploy/k8s/base" 2>&1) || { echo "FAIL base: $base"; exit 1; }
gpu=$(kubectl kustomize "$src/deploy/k8s/overlays/gpu" 2>&1) || { echo "FAIL gpu overlay: $gpu"; exit 1; }
for kind in Deployment StatefulSet Service PersistentVolumeClaim ConfigMap PodDisruptionBudget \
            HorizontalPodAutoscaler ServiceMonitor PrometheusRule; do
  grep -q "^kind: $kind$" <<<"$base" || { echo "FAIL: base renders no $kind"; failed=1; }
done
grep -q "grpc:" <<<"$base" || { echo "FAIL: no native gRPC probes"; failed=1; }
grep -q "nvidia.com/gpu: 1" <<<"$gpu" || { echo "FAIL: GPU overlay requests no nvidia.com/gpu"; failed=1; }
grep -q -- "--device=cuda:0" <<<"$gpu" || { echo "FAIL: GPU overlay does not select cuda:0"; failed=1; }
if ! diff <("$src/scripts/gen_prometheusrule.sh") "$src/deploy/k8s/base/prometheusrule.yaml" >/dev/null; then
  echo "FAIL: deploy/k8s/base/prometheusrule.yaml is stale; run scripts/gen_prometheusrule.sh"; failed=1
fi
[ $failed -eq 0 ] && echo "PASS: kustomize renders base ($(grep -c '^kind:' <<<"$base") objects) and gpu overlay"
exit $failed
