#!/usr/bin/env bash
# Builds kseal-controller from an earlier commit of this repository, for the
# upgrade tests (a new controller started on what an earlier one wrote).
#
#   hack/build-previous.sh COMMIT
#
# The binary goes to ${KSEAL_CACHE:-$HOME/.cache/kseal}/previous/COMMIT/kseal-controller,
# outside the clone; later runs reuse it. The source comes from `git archive`,
# so the clone needs that commit in its history.
# Progress goes to stderr; the last line on stdout is the binary path.
set -euo pipefail

commit=${1:?usage: build-previous.sh COMMIT}
log() { printf 'build-previous: %s\n' "$*" >&2; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${KSEAL_CACHE:-$HOME/.cache/kseal}
full=$(git -C "$repo_root" rev-parse --verify "$commit^{commit}")
out_dir="$cache_root/previous/$full"
bin="$out_dir/kseal-controller"

if [[ -x "$bin" ]]; then
	log "up to date: $bin"
	printf '%s\n' "$bin"
	exit 0
fi

log "building kseal-controller at ${full:0:12} (about a minute with a warm Go build cache)"
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git -C "$repo_root" archive "$full" | tar -x -C "$src"
mkdir -p "$out_dir"
(cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" ./cmd/kseal-controller)
mv "$bin.tmp" "$bin"
log "built: $bin"
printf '%s\n' "$bin"
