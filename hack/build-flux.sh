#!/usr/bin/env bash
# Builds Flux's kustomize-controller from its Go module, for the Flux
# end-to-end test (test/e2e/flux_test.go), and copies the CRDs that test
# installs: kustomize-controller's Kustomization and source-controller's
# GitRepository (with the other source kinds the controller indexes).
#
# Everything goes to
#   ${KSEAL_CACHE:-$HOME/.cache/kseal}/flux-kustomize-controller-v$VERSION/
#     kustomize-controller   the binary
#     crds/*.yaml            the CRDs
# outside the clone, so later runs on the same machine reuse it. Flux is never
# added to kseal's go.mod: the module is downloaded with `go mod download`,
# copied to a temporary directory under the cache and built there with its own
# go.mod and go.sum (-mod=readonly), on the local Go toolchain only.
#
# v1.9.6 is the newest release that builds with Go 1.26: v1.10.0 and v1.10.1
# require go >= 1.27.0.
#
# Progress messages go to stderr; the last line on stdout is the binary path:
#   KSEAL_FLUX=$(hack/build-flux.sh | tail -n1)
set -euo pipefail

VERSION=1.9.6
# The source-controller release whose API kustomize-controller v1.9.6 uses
# (github.com/fluxcd/source-controller/api v1.9.0 in its go.mod).
SOURCE_VERSION=1.9.0
KC=github.com/fluxcd/kustomize-controller
SC=github.com/fluxcd/source-controller

log() { printf 'build-flux: %s\n' "$*" >&2; }

cache_root=${KSEAL_CACHE:-$HOME/.cache/kseal}
out_dir="$cache_root/flux-kustomize-controller-v$VERSION"
bin="$out_dir/kustomize-controller"
stamp="$out_dir/.complete"
want="kustomize-controller v$VERSION source-controller v$SOURCE_VERSION"

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
	log "up to date: $bin ($want)"
	printf '%s\n' "$bin"
	exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not on PATH"; exit 1; }
export GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0

# module_dir PATH@VERSION: downloads the module (verified against go.sum's
# checksum database) and prints its directory in the module cache.
module_dir() {
	local json dir
	json=$(go mod download -json "$1") || { log "go mod download $1 failed: $json"; return 1; }
	dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	if [[ -z "$dir" || ! -d "$dir" ]]; then
		log "go mod download $1 gave no module directory: $json"
		return 1
	fi
	printf '%s\n' "$dir"
}

start=$SECONDS
mkdir -p "$out_dir"
work=$(mktemp -d "$cache_root/.flux-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

log "building kustomize-controller v$VERSION with $(go version) (5 to 20 minutes on a cold cache, depending on the machine)"
kc_dir=$(module_dir "$KC@v$VERSION")
# The API is a nested module that go.mod replaces with ./api; module zips
# leave nested modules out, so it comes separately (same release).
api_dir=$(module_dir "$KC/api@v$VERSION")
sc_dir=$(module_dir "$SC@v$SOURCE_VERSION")

# The module cache is read-only; build in a writable copy, with the module's
# own go.mod and go.sum (and its replace directives) as its release did.
cp -R "$kc_dir" "$work/src"
chmod -R u+w "$work/src"
rm -rf "$work/src/api"
cp -R "$api_dir" "$work/src/api"
chmod -R u+w "$work/src/api"
(
	cd "$work/src"
	go build -mod=readonly -trimpath -buildvcs=false -ldflags "-s -w" -o "$work/kustomize-controller" .
)

mkdir -p "$work/crds"
cp "$kc_dir"/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml "$work/crds/"
for kind in gitrepositories ocirepositories buckets externalartifacts; do
	cp "$sc_dir/config/crd/bases/source.toolkit.fluxcd.io_$kind.yaml" "$work/crds/"
done
chmod 0644 "$work"/crds/*.yaml

rm -rf "$out_dir/crds" "$stamp"
mv "$work/crds" "$out_dir/crds"
mv -f "$work/kustomize-controller" "$bin"
chmod 0755 "$bin"
printf '%s\n' "$want" >"$stamp"
log "built $bin in $((SECONDS - start))s"
printf '%s\n' "$bin"
