#!/usr/bin/env bash
# Renders every overlay with `kubectl kustomize` and validates the result
# strictly against the Kubernetes schemas of the versions still supported
# (kubernetes-validate, from PyPI). Kinds outside Kubernetes (the Prometheus
# operator's ServiceMonitor) have no schema there; they are checked for the
# fields the operator requires.
set -euo pipefail
cd "$(dirname "$0")"
versions=(1.35.0 1.36.0 1.37.0)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "k8s-test: FAILED: $*" >&2; exit 1; }

declare -A expect=(
	[modern-ebpf]="Namespace ServiceAccount ConfigMap ConfigMap Service DaemonSet"
	[kmod]="Namespace ServiceAccount ConfigMap ConfigMap Service DaemonSet"
	[ebpf]="Namespace ServiceAccount ConfigMap ConfigMap Service DaemonSet"
	[modern-ebpf-prometheus-operator]="Namespace ServiceAccount ConfigMap ConfigMap Service DaemonSet ServiceMonitor"
	[userspace-sidecar]="ConfigMap ConfigMap Deployment"
)
for dir in overlays/*/; do
	name=$(basename "$dir")
	[ -n "${expect[$name]:-}" ] || fail "overlay $name has no expected kinds in test.sh"
	kubectl kustomize "$dir" >"$out/$name.yaml" 2>"$out/$name.err" || { cat "$out/$name.err" >&2; fail "kustomize $name"; }
	kinds=$(sed -n 's/^kind: //p' "$out/$name.yaml" | sort | tr '\n' ' ')
	want=$(tr ' ' '\n' <<<"${expect[$name]}" | sed '/^$/d' | sort | tr '\n' ' ')
	[ "$kinds" = "$want" ] || fail "$name renders [$kinds], expected [$want]"
	for v in "${versions[@]}"; do
		rc=0
		kubernetes-validate -k "$v" --strict --quiet "$out/$name.yaml" >"$out/v" 2>&1 || rc=$?
		grep -v "Couldn't find schema for kind ServiceMonitor" "$out/v" >&2 || true
		[ "$rc" -eq 0 ] || fail "$name does not validate against Kubernetes $v"
	done
	echo "k8s-test: $name: $(wc -w <<<"$kinds") objects, valid for Kubernetes ${versions[*]}"
done
python3 - "$out/modern-ebpf-prometheus-operator.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sm = [d for d in docs if d["kind"] == "ServiceMonitor"][0]
svc = [d for d in docs if d["kind"] == "Service"][0]
assert sm["apiVersion"] == "monitoring.coreos.com/v1"
sel = sm["spec"]["selector"]["matchLabels"]
assert all(svc["metadata"]["labels"].get(k) == v for k, v in sel.items()), "ServiceMonitor selects no Service"
ports = {p["name"] for p in svc["spec"]["ports"]}
assert all(e["port"] in ports for e in sm["spec"]["endpoints"]), "ServiceMonitor endpoint port not on the Service"
print("k8s-test: ServiceMonitor selects the metrics Service and port")
PY
