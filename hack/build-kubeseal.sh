#!/usr/bin/env bash
# Builds the upstream kubeseal CLI (Bitnami sealed-secrets) from the pinned
# wrapper module in hack/tools/kubeseal, for generating and checking the
# compatibility vectors in crypto/sealing/testdata/kubeseal.
#
# The binary goes to ${KSEAL_CACHE:-$HOME/.cache/kseal}/kubeseal-v0.40.0/kubeseal,
# outside the clone, so later runs on the same machine reuse it. The build is
# skipped when that binary already exists and reports the expected version.
#
# Progress messages go to stderr; the last line on stdout is the binary path:
#   KUBESEAL=$(hack/build-kubeseal.sh | tail -n1)
set -euo pipefail

KUBESEAL_VERSION=0.40.0
PKG=github.com/bitnami/sealed-secrets/cmd/kubeseal

log() { printf 'build-kubeseal: %s\n' "$*" >&2; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module_dir="$repo_root/hack/tools/kubeseal"
cache_root=${KSEAL_CACHE:-$HOME/.cache/kseal}
out_dir="$cache_root/kubeseal-v$KUBESEAL_VERSION"
bin="$out_dir/kubeseal"

have_version() {
	local v
	[[ -x "$1" ]] || return 1
	v=$("$1" --version 2>/dev/null) || return 1
	# Prints "kubeseal version: 0.40.0".
	[[ "$v" == *"version: $KUBESEAL_VERSION"* || "$v" == *"version: v$KUBESEAL_VERSION"* ]]
}

if have_version "$bin"; then
	log "up to date: $bin ($("$bin" --version))"
	printf '%s\n' "$bin"
	exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not on PATH"; exit 1; }

mkdir -p "$out_dir"
tmp=$(mktemp "$out_dir/.kubeseal.XXXXXX")
trap 'rm -f "$tmp"' EXIT

log "building kubeseal $KUBESEAL_VERSION with $(go version) (this takes a few minutes on a cold cache)"
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
		-ldflags "-s -w -X main.VERSION=$KUBESEAL_VERSION" \
		-o "$tmp" \
		"$PKG"
)
chmod 0755 "$tmp"

if ! have_version "$tmp"; then
	log "built binary does not report version $KUBESEAL_VERSION: $("$tmp" --version 2>&1 || true)"
	exit 1
fi

mv -f "$tmp" "$bin"
trap - EXIT
log "built $bin in $((SECONDS - start))s ($("$bin" --version))"
printf '%s\n' "$bin"
