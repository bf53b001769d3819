#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries that envtest runs, from Go module
# source (setup-envtest's release tarballs are not always reachable).
#
# The binaries go to ${KSEAL_CACHE:-$HOME/.cache/kseal}/envtest/k8s-<ver>-etcd-<ver>/,
# outside the clone, so later runs on the same machine reuse them. When both
# binaries are present and report the expected version, nothing is built.
#
# Progress goes to stderr. The last line on stdout is the binary directory, for
# use as KUBEBUILDER_ASSETS:
#
#   export KUBEBUILDER_ASSETS="$(hack/build-envtest.sh)"
#
# `hack/build-envtest.sh --check` builds nothing: it exits 0 (and prints the
# directory) when both binaries are up to date, 1 when a build is needed.
#
# The versions are pinned by the wrapper modules hack/tools/kube-apiserver and
# hack/tools/etcd; bump them there (and below) together.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_root="${KSEAL_CACHE:-${HOME}/.cache/kseal}"
dest="${cache_root}/envtest/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"

log() { printf 'build-envtest: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# have_version BINARY EXPECTED: the binary exists and its --version output
# contains EXPECTED as a whole word.
have_version() {
	local bin="$1" want="$2" out
	[[ -x "${bin}" ]] || return 1
	out="$("${bin}" --version 2>/dev/null)" || return 1
	grep -qwF -- "${want}" <<<"${out}"
}

# apiserver_ok DIR / etcd_ok DIR: DIR holds a binary of the expected version.
apiserver_ok() { have_version "$1/kube-apiserver" "Kubernetes ${K8S_VERSION}"; }
etcd_ok() { have_version "$1/etcd" "etcd Version: ${ETCD_VERSION#v}"; }

if apiserver_ok "${dest}" && etcd_ok "${dest}"; then
	log "up to date: ${dest}"
	printf '%s\n' "${dest}"
	exit 0
fi
case "${1:-}" in
"") ;;
--check) exit 1 ;;
*) die "usage: $0 [--check]" ;;
esac

command -v go >/dev/null 2>&1 || die "go is not on PATH"
mkdir -p "${dest}"

# Serialize concurrent runs: kube-apiserver alone needs ~2.5 GiB to link, and
# two parallel builds of it would only race to write the same file.
if command -v flock >/dev/null 2>&1; then
	exec 9>"${dest}/.lock"
	if ! flock -n 9; then
		log "another build is running; waiting for it"
		flock 9
	fi
fi

tmpdir="$(mktemp -d "${dest}/.build.XXXXXX")"
trap 'rm -rf "${tmpdir}"' EXIT

# Builds in the wrapper modules must use exactly their committed go.mod/go.sum.
export GOWORK=off
export GOFLAGS="${GOFLAGS:+${GOFLAGS} }-mod=readonly"
# Static binaries, like the upstream release builds. (With -trimpath these
# compiled packages are not shared with ordinary `go test` builds anyway.)
export CGO_ENABLED=0

# check_pin DIR MODULE VERSION: the wrapper module in DIR requires MODULE at VERSION.
check_pin() {
	local dir="$1" mod="$2" want="$3" got
	got="$(cd "${dir}" && go list -m -f '{{.Version}}' "${mod}")"
	[[ "${got}" == "${want}" ]] ||
		die "${dir#"${repo_root}/"} pins ${mod} ${got}, but this script expects ${want}"
}

# build NAME DIR PACKAGE LDFLAGS CHECK: builds PACKAGE in the wrapper module DIR
# into a temporary file next to the destination, checks its version with the
# function CHECK, and moves it into place.
build() {
	local name="$1" dir="$2" pkg="$3" ldflags="$4" check="$5" start
	start=${SECONDS}
	log "building ${name} (${pkg}) in ${dir#"${repo_root}/"}"
	(cd "${dir}" && go build -trimpath -ldflags "${ldflags}" -o "${tmpdir}/${name}" "${pkg}")
	# Check the freshly built file before it replaces anything.
	"${check}" "${tmpdir}" ||
		die "${name} built, but '${name} --version' does not report the expected version"
	mv -f "${tmpdir}/${name}" "${dest}/${name}"
	log "built ${name} in $((SECONDS - start))s"
}

k8s_minor="${K8S_VERSION#v1.}"
k8s_minor="${k8s_minor%%.*}"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	k8s_ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION}"
	k8s_ldflags+=" -X ${pkg}.gitMajor=1"
	k8s_ldflags+=" -X ${pkg}.gitMinor=${k8s_minor}"
	k8s_ldflags+=" -X ${pkg}.gitTreeState=clean"
done

# One binary at a time: the machines this runs on may have only two cores and
# little memory to spare.
if ! apiserver_ok "${dest}"; then
	dir="${repo_root}/hack/tools/kube-apiserver"
	check_pin "${dir}" k8s.io/kubernetes "${K8S_VERSION}"
	build kube-apiserver "${dir}" k8s.io/kubernetes/cmd/kube-apiserver "${k8s_ldflags}" apiserver_ok
fi
if ! etcd_ok "${dest}"; then
	dir="${repo_root}/hack/tools/etcd"
	check_pin "${dir}" go.etcd.io/etcd/server/v3 "${ETCD_VERSION}"
	build etcd "${dir}" go.etcd.io/etcd/server/v3 "-s -w" etcd_ok
fi

log "done: ${dest}"
printf '%s\n' "${dest}"
