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
grep -q "^kind: NetworkPolicy$" <<<"$base" || { echo "FAIL: base renders no NetworkPolicy"; failed=1; }
# TLS and tokens on in both renderings (an overlay's args replace the base's).
for rendering in base gpu; do
  text="${!rendering}"
  for flag in --auth_tokens= --tls_cert= --worker_tls_ca= --tls_client_ca=; do
    grep -q -- "$flag" <<<"$text" || { echo "FAIL: $rendering has no $flag"; failed=1; }
  done
  grep -q "health" <<<"$text" || { echo "FAIL: $rendering probes do not run v2p health"; failed=1; }
done
grep -q "nvidia.com/gpu: 1" <<<"$gpu" || { echo "FAIL: GPU overlay requests no nvidia.com/gpu"; failed=1; }
grep -q -- "--device=cuda:0" <<<"$gpu" || { echo "FAIL: GPU overlay does not select cuda:0"; failed=1; }
if ! diff <("$src/scripts/gen_prometheusrule.sh") "$src/deploy/k8s/base/prometheusrule.yaml" >/dev/null; then
  echo "FAIL: deploy/k8s/base/prometheusrule.yaml is stale; run scripts/gen_prometheusrule.sh"; failed=1
fi
[ $failed -eq 0 ] && echo "PASS: kustomize renders base ($(grep -c '^kind:' <<<"$base") objects) and gpu overlay"
exit $failed
