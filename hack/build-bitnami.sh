#!/usr/bin/env bash
# Builds Bitnami's sealed-secrets controller (cmd/controller) v0.40.0 from the
# pinned wrapper module in hack/tools/bitnami-controller, for the side-by-side
# figures of the scale harness (make bench-scale, test/scale).
#
# The binary goes to ${KSEAL_CACHE:-$HOME/.cache/kseal}/bitnami-controller-v0.40.0/controller,
# and the SealedSecret CRD of the same release (bitnami.com/v1alpha1) to
# crds/ beside it, outside the clone, so later runs on the same machine reuse
# them. The build is skipped when that binary already exists and reports the
# expected version.
#
# Progress messages go to stderr; the last line on stdout is the binary path:
#   BITNAMI=$(hack/build-bitnami.sh | tail -n1)
set -euo pipefail

BITNAMI_VERSION=0.40.0
PKG=github.com/bitnami/sealed-secrets/cmd/controller

log() { printf 'build-bitnami: %s\n' "$*" >&2; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module_dir="$repo_root/hack/tools/bitnami-controller"
cache_root=${KSEAL_CACHE:-$HOME/.cache/kseal}
out_dir="$cache_root/bitnami-controller-v$BITNAMI_VERSION"
bin="$out_dir/controller"

have_version() {
	local v
	[[ -x "$1" ]] || return 1
	v=$("$1" --version 2>/dev/null) || return 1
	# Prints "controller version: 0.40.0".
	[[ "$v" == *"version: $BITNAMI_VERSION"* || "$v" == *"version: v$BITNAMI_VERSION"* ]]
}

# copy_crds puts the release's CRD beside the binary (atomically).
copy_crds() {
	local dir
	dir=$(cd "$module_dir" && GOFLAGS= go list -mod=readonly -m -f '{{.Dir}}' github.com/bitnami/sealed-secrets)
	mkdir -p "$out_dir/crds"
	cp "$dir/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml" "$out_dir/crds/.tmp.yaml"
	chmod 0644 "$out_dir/crds/.tmp.yaml"
	mv -f "$out_dir/crds/.tmp.yaml" "$out_dir/crds/bitnami.com_sealedsecrets.yaml"
}

if have_version "$bin" && [[ -f "$out_dir/crds/bitnami.com_sealedsecrets.yaml" ]]; then
	log "up to date: $bin ($("$bin" --version))"
	printf '%s\n' "$bin"
	exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not on PATH"; exit 1; }

if have_version "$bin"; then
	copy_crds
	log "up to date: $bin (CRD copied)"
	printf '%s\n' "$bin"
	exit 0
fi

mkdir -p "$out_dir"
tmp=$(mktemp "$out_dir/.controller.XXXXXX")
trap 'rm -f "$tmp"' EXIT

log "building Bitnami's controller $BITNAMI_VERSION with $(go version) (about 3 minutes on a cold cache)"
start=$SECONDS
(
	cd "$module_dir"
	# -mod=readonly: the committed go.mod/go.sum pin every dependency.
	# -buildvcs=false: the wrapper lives in kseal's repository; do not stamp kseal's commit.
	# main.VERSION is what upstream's release build sets (without the leading "v").
	CGO_ENABLED=0 GOFLAGS= go build \
		-mod=readonly \
		-trimpath \
		-buildvcs=false \
		-ldflags "-s -w -X main.VERSION=$BITNAMI_VERSION" \
		-o "$tmp" \
		"$PKG"
)
chmod 0755 "$tmp"

if ! have_version "$tmp"; then
	log "built binary does not report version $BITNAMI_VERSION: $("$tmp" --version 2>&1 || true)"
	exit 1
fi

mv -f "$tmp" "$bin"
trap - EXIT
copy_crds
log "built $bin in $((SECONDS - start))s ($("$bin" --version))"
printf '%s\n' "$bin"
