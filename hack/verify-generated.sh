#!/usr/bin/env bash
# Regenerates deepcopy code and CRDs and fails if that changed anything, so
# committed generated files always match the API types.
set -euo pipefail
cd "$(dirname "$0")/.."
files=(api/v1alpha1/zz_generated.deepcopy.go config/crd/bases/*.yaml charts/kseal/crds/*.yaml config/rbac/role.yaml)
before="$(cat "${files[@]}" | sha256sum)"
make --no-print-directory generate >/dev/null
after="$(cat "${files[@]}" | sha256sum)"
if [[ "$before" != "$after" ]]; then
  echo "generated files were stale and have been regenerated: review and commit them" >&2
  git status --short -- api config/crd charts/kseal/crds >&2 || true
  exit 1
fi
echo "generated files are up to date" >&2
