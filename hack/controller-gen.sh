#!/usr/bin/env bash
# Runs controller-gen v0.23.0, installing it once into the kseal tool cache.
set -euo pipefail
version=v0.23.0
dir="${KSEAL_CACHE:-$HOME/.cache/kseal}/bin"
bin="$dir/controller-gen-$version"
if [[ ! -x "$bin" ]]; then
  echo "installing controller-gen $version into $dir" >&2
  mkdir -p "$dir"
  tmp="$(mktemp -d "$dir/.cg.XXXXXX")"
  GOBIN="$tmp" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$version"
  mv "$tmp/controller-gen" "$bin"
  rmdir "$tmp"
fi
exec "$bin" "$@"
