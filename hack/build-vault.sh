#!/usr/bin/env bash
# Builds the HashiCorp Vault server binary that the Vault provider tests run as
# a dev server (providers/vault/vaulttest), from Go module source.
#
# Only Vault v1.14.2 is used: the 1.14 line up to v1.14.8 is MPL-2.0, later
# releases are under the BSL. The wrapper module hack/tools/vault pins it. The
# vault module zip lacks its nested ./sdk directory, so the build uses
# github.com/hashicorp/vault/sdk v0.9.2 from the module proxy (checksum pinned
# below) with hack/tools/vault/sdk-no-existence-check-panic.patch applied.
#
# The binary goes to ${KSEAL_CACHE:-$HOME/.cache/kseal}/vault-v1.14.2/vault,
# outside the clone, so later runs on the same machine reuse it. When it exists
# and `vault version` reports the expected version, nothing is built. A cold
# build takes several minutes and about 4.5 GB of memory.
#
# Progress goes to stderr. The last line on stdout is the binary path:
#
#   export KSEAL_VAULT="$(hack/build-vault.sh | tail -n1)"
#
# `hack/build-vault.sh --check` builds nothing: it exits 0 (and prints the
# path) when the binary is up to date, 1 when a build is needed.
#
# `hack/build-vault.sh --tidy` runs `go mod tidy` on the wrapper module (in the
# build directory, where the patched sdk is) and copies go.mod and go.sum back
# into hack/tools/vault. Use it after changing the pins.
set -euo pipefail

VAULT_VERSION=v1.14.2
SDK_MODULE=github.com/hashicorp/vault/sdk
SDK_VERSION=v0.9.2
# go.sum hash of the sdk module zip; `go mod download` checks the download
# against it (and against the checksum database).
SDK_SUM='h1:H1kitfl1rG2SHbeGEyvhEqmIjVKE3E6c2q3ViKOs6HA='

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module_dir="${repo_root}/hack/tools/vault"
patch_file="${module_dir}/sdk-no-existence-check-panic.patch"
cache_root="${KSEAL_CACHE:-${HOME}/.cache/kseal}"
dest="${cache_root}/vault-${VAULT_VERSION}"
bin="${dest}/vault"
# The wrapper module plus the patched sdk. A fixed path (rather than a fresh
# temporary directory) lets a rebuild reuse Go's build cache.
stage="${dest}/src"

log() { printf 'build-vault: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

tidy=false
check=false
case "${1:-}" in
"") ;;
--tidy) tidy=true ;;
--check) check=true ;;
*) die "usage: $0 [--tidy|--check]" ;;
esac

# have_version BINARY: BINARY runs and reports Vault ${VAULT_VERSION}.
have_version() {
	local out
	[[ -x "$1" ]] || return 1
	out="$("$1" version 2>/dev/null)" || return 1
	# Prints "Vault v1.14.2" (plus revision and build date when stamped).
	grep -qE "^Vault ${VAULT_VERSION//./\\.}( |,|$)" <<<"${out}"
}

if ! ${tidy} && have_version "${bin}"; then
	log "up to date: ${bin}"
	printf '%s\n' "${bin}"
	exit 0
fi
# --check: only say whether a build is needed (exit status 1).
${check} && exit 1

command -v go >/dev/null 2>&1 || die "go is not on PATH"
mkdir -p "${dest}"

# Serialize concurrent runs: the build needs ~4.5 GB, and two of them would
# only race to write the same file.
if command -v flock >/dev/null 2>&1; then
	exec 9>"${dest}/.lock"
	if ! flock -n 9; then
		log "another build is running; waiting for it"
		flock 9
	fi
	# The other run may have built it meanwhile.
	if ! ${tidy} && have_version "${bin}"; then
		log "up to date: ${bin}"
		printf '%s\n' "${bin}"
		exit 0
	fi
fi

export GOWORK=off
export CGO_ENABLED=0

# apply_patch DIR: applies the sdk patch inside DIR, with patch(1) or, where
# that is not installed, git apply (outside any repository it acts like patch).
apply_patch() {
	if command -v patch >/dev/null 2>&1; then
		patch --batch --forward --silent -p1 -d "$1" <"${patch_file}"
	else
		(cd "$1" && GIT_CEILING_DIRECTORIES="$(dirname "$1")" git apply -p1 "${patch_file}")
	fi
}

# prepare_stage: a fresh copy of the wrapper module with the patched sdk in
# ${stage}.
prepare_stage() {
	local info sdk_dir sdk_sum
	# Download outside any module so no go.mod is consulted or changed.
	info="$(cd "${dest}" && GOFLAGS=-mod=mod go mod download -json "${SDK_MODULE}@${SDK_VERSION}")" ||
		die "cannot download ${SDK_MODULE}@${SDK_VERSION}"
	sdk_dir="$(sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p' <<<"${info}")"
	sdk_sum="$(sed -nE 's/^[[:space:]]*"Sum": "(.*)",?$/\1/p' <<<"${info}")"
	[[ "${sdk_sum}" == "${SDK_SUM}" ]] ||
		die "${SDK_MODULE}@${SDK_VERSION} has checksum ${sdk_sum:-?}, expected ${SDK_SUM}"
	[[ -f "${sdk_dir}/framework/backend.go" ]] || die "no sdk source in ${sdk_dir:-?}"

	rm -rf "${stage}"
	mkdir -p "${stage}"
	cp "${module_dir}/go.mod" "${stage}/"
	[[ ! -f "${module_dir}/go.sum" ]] || cp "${module_dir}/go.sum" "${stage}/"
	cp -R "${sdk_dir}" "${stage}/sdk"
	chmod -R u+w "${stage}/sdk"
	apply_patch "${stage}/sdk" || die "cannot apply ${patch_file#"${repo_root}/"}"
	! grep -q 'panic(.*defines a CreateOperation but no ExistenceCheck' "${stage}/sdk/framework/backend.go" ||
		die "the sdk patch left the ExistenceCheck panic in place"
}

prepare_stage

if ${tidy}; then
	log "tidying hack/tools/vault"
	(cd "${stage}" && GOFLAGS='' go mod tidy)
	cp "${stage}/go.mod" "${stage}/go.sum" "${module_dir}/"
	log "updated ${module_dir#"${repo_root}/"}/go.mod and go.sum"
	exit 0
fi

got="$(cd "${stage}" && GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' github.com/hashicorp/vault)"
[[ "${got}" == "${VAULT_VERSION}" ]] ||
	die "hack/tools/vault pins github.com/hashicorp/vault ${got}, but this script expects ${VAULT_VERSION}"

tmp="$(mktemp "${dest}/.vault.XXXXXX")"
trap 'rm -f "${tmp}"' EXIT

log "building vault ${VAULT_VERSION} with $(go version) (several minutes on a cold cache)"
start=${SECONDS}
# -mod=readonly: the committed go.mod/go.sum pin every dependency.
# -buildvcs=false: the build directory is not Vault's repository.
(cd "${stage}" && GOFLAGS=-mod=readonly go build \
	-trimpath \
	-buildvcs=false \
	-ldflags "-s -w" \
	-o "${tmp}" \
	github.com/hashicorp/vault)
chmod 0755 "${tmp}"
have_version "${tmp}" ||
	die "built binary does not report Vault ${VAULT_VERSION}: $("${tmp}" version 2>&1 || true)"
mv -f "${tmp}" "${bin}"
trap - EXIT
log "built ${bin} in $((SECONDS - start))s"
printf '%s\n' "${bin}"
