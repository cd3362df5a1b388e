#!/usr/bin/env bash
# The operations checks, without a cluster (`make ops-check`):
#
#   1. Prometheus: `promtool check config` and `check rules`, and the alert
#      rules' unit tests (`promtool test rules deploy/prometheus/alerts_test.yml`).
#   2. Kubernetes: renders every overlay (each directory under deploy/k8s/overlays
#      and deploy/k8s/rebuild) with kustomize and validates every resource
#      against the Kubernetes schemas offline (deploy/validate_manifests.py;
#      the CRDs of KEDA and the Prometheus Operator are named as skipped and
#      checked by hand there).
#   3. checkov on the rendered manifests, with the skips in deploy/k8s/.checkov.yaml.
#
# It installs what it lacks, once, outside the repository:
#   promtool     Debian's `prometheus` package (apt-get; needs root or sudo)
#   kustomize    built from the Go module proxy into $PARTNERHUB_CACHE/bin
#   checkov, kubernetes-validate
#                pinned in deploy/ops-requirements.txt, in the virtualenv
#                $PARTNERHUB_CACHE/ops-venv (not the project's .venv)
# $PARTNERHUB_CACHE defaults to ~/.cache/partnerhub. Exit status: 0 when every
# check passes, non-zero at the first failing step.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

CACHE=${PARTNERHUB_CACHE:-$HOME/.cache/partnerhub}
KUSTOMIZE_VERSION=v5.8.2 # v5.8.3 needs Go 1.27; v5.8.2 builds with Go 1.26
KUBERNETES_VERSIONS=${PARTNERHUB_KUBERNETES_VERSIONS:-"1.30 1.37"}
PYTHON=${PYTHON:-python3}

bin="$CACHE/bin"
kustomize="$bin/kustomize-$KUSTOMIZE_VERSION"
venv="$CACHE/ops-venv"
venv_stamp="$venv/.installed-$(cksum <"$here/ops-requirements.txt" | cut -d' ' -f1)"

log() { printf '[ops-check] %s\n' "$*"; }
die() { printf '[ops-check] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "root (or sudo) is needed for: $*"
  fi
}

need_promtool() {
  command -v promtool >/dev/null && return 0
  log "installing promtool (Debian package prometheus; first run only)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  command -v promtool >/dev/null || die "apt-get installed prometheus but promtool is not on PATH"
}

need_kustomize() {
  [ -x "$kustomize" ] && return 0
  command -v go >/dev/null || die "Go is needed to build kustomize $KUSTOMIZE_VERSION"
  log "building kustomize $KUSTOMIZE_VERSION with Go (first run only, about 20 s)"
  local tmp="$bin/.build.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  # Outside the repository, so go.mod files around do not matter.
  (cd "$tmp" && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="$tmp" \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION") \
    || die "could not build kustomize $KUSTOMIZE_VERSION"
  mv "$tmp/kustomize" "$kustomize"
  rm -rf "$tmp"
}

need_venv() {
  [ -f "$venv_stamp" ] && return 0
  log "installing checkov and kubernetes-validate into $venv (first run only)"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$here/ops-requirements.txt" || die "pip could not install deploy/ops-requirements.txt"
  rm -f "$venv"/.installed-*
  touch "$venv_stamp"
}

need_promtool
need_kustomize
need_venv

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "1/3 Prometheus: config, alert rules and their unit tests, the dashboard's queries"
promtool check config "$here/prometheus/prometheus.yml"
promtool check rules "$here/prometheus/alerts.yml"
(cd "$here/prometheus" && promtool test rules alerts_test.yml)
# The dashboard's queries must parse too: promtool checks them as recording rules.
"$PYTHON" - "$here/grafana/partnerhub.json" >"$work/dashboard-queries.yml" <<'PY'
import json, sys
def exprs(panels):
    for panel in panels:
        yield from exprs(panel.get("panels", []))
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
rules = [
    {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
    for i, (title, expr) in enumerate(exprs(json.load(open(sys.argv[1]))["panels"]))
]
print(json.dumps({"groups": [{"name": "grafana-dashboard-queries", "rules": rules}]}, indent=1))
PY
promtool check rules "$work/dashboard-queries.yml" >/dev/null \
  || { promtool check rules "$work/dashboard-queries.yml" >&2; die "a query of deploy/grafana/partnerhub.json does not parse"; }
log "  deploy/grafana/partnerhub.json: $(grep -c '"record"' "$work/dashboard-queries.yml" || true) queries parse"

log "2/3 Kubernetes: render every overlay, validate against the schemas of Kubernetes $KUBERNETES_VERSIONS"
rendered=()
for kustomization in "$here"/k8s/overlays/*/kustomization.yaml "$here"/k8s/rebuild/*/kustomization.yaml; do
  dir=$(dirname "$kustomization")
  name=${dir#"$here/k8s/"}
  out="$work/${name//\//-}.yaml"
  "$kustomize" build "$dir" >"$out" || die "kustomize could not render deploy/k8s/$name"
  log "  rendered deploy/k8s/$name: $(grep -c '^kind:' "$out") resources"
  rendered+=("$out")
done
[ "${#rendered[@]}" -gt 0 ] || die "no overlay found under deploy/k8s"
versions=()
for v in $KUBERNETES_VERSIONS; do versions+=(--kubernetes-version "$v"); done
"$venv/bin/python" "$here/validate_manifests.py" "${versions[@]}" \
  --alerts "$here/prometheus/alerts.yml" --promtool "$(command -v promtool)" "${rendered[@]}"

log "3/3 checkov on the rendered manifests; skipped (deploy/k8s/.checkov.yaml):"
# Each skipped check id with the comment line above it, its reason.
awk '/^  # /{reason=substr($0, 5)} /^  - CKV/{print "[ops-check]   " $2 ": " reason}' "$here/k8s/.checkov.yaml"
"$venv/bin/checkov" --config-file "$here/k8s/.checkov.yaml" --directory "$work"

log "all operations checks passed"
