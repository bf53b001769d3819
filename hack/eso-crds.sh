#!/usr/bin/env bash
# Copies External Secrets Operator's CRDs (external-secrets.io ExternalSecret,
# SecretStore, ClusterSecretStore, ClusterExternalSecret, PushSecret) from
# its Go module, verbatim,
# for the takeover tests (kseal-controller --adopt-apis=external-secrets
# reconciles ESO's objects through ESO's own CRDs).
#
# The files go to ${KSEAL_CACHE:-$HOME/.cache/kseal}/eso-crds-v$ESO_VERSION/,
# outside the clone; a second run is a no-op. The module comes through the Go
# module proxy and is checked against the checksum database like any module.
#
# The last line on stdout is the directory:
#   KSEAL_ESO_CRDS=$(hack/eso-crds.sh | tail -n1)
set -euo pipefail

ESO_VERSION=0.16.2
MODULE=github.com/external-secrets/external-secrets
FILES="external-secrets.io_externalsecrets.yaml external-secrets.io_secretstores.yaml external-secrets.io_clustersecretstores.yaml external-secrets.io_clusterexternalsecrets.yaml external-secrets.io_pushsecrets.yaml"

log() { printf 'eso-crds: %s\n' "$*" >&2; }

cache_root=${KSEAL_CACHE:-$HOME/.cache/kseal}
out_dir="$cache_root/eso-crds-v$ESO_VERSION"

complete() {
	[[ -f "$out_dir/.complete" ]] || return 1
	for f in $FILES; do [[ -f "$out_dir/$f" ]] || return 1; done
}
if complete; then
	log "up to date: $out_dir"
	printf '%s\n' "$out_dir"
	exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not on PATH"; exit 1; }
log "downloading $MODULE@v$ESO_VERSION from the module proxy"
dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "$MODULE@v$ESO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -n "$dir" && -d "$dir/config/crds/bases" ]] || { log "module directory not found (got '$dir')"; exit 1; }

mkdir -p "$cache_root"
tmp=$(mktemp -d "$cache_root/.eso-crds.XXXXXX")
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
for f in $FILES; do
	cp "$dir/config/crds/bases/$f" "$tmp/$f"
	chmod 0644 "$tmp/$f"
done
printf 'module %s@v%s\n' "$MODULE" "$ESO_VERSION" >"$tmp/SOURCE"
touch "$tmp/.complete"
rm -rf "$out_dir"
mv "$tmp" "$out_dir"
trap - EXIT
log "copied to $out_dir"
printf '%s\n' "$out_dir"
