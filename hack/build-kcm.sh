#!/usr/bin/env bash
# Builds kube-controller-manager from the same k8s.io/kubernetes module
# version as the envtest kube-apiserver (hack/build-envtest.sh), so tests can
# run the Deployment controller: Deployments then really roll (new
# ReplicaSets and revisions) on the test API server.
#
# The binary goes to ${KSEAL_CACHE:-$HOME/.cache/kseal}/kube-controller-manager/<ver>/,
# outside the clone; when it is present and reports the expected version,
# nothing is built. Progress goes to stderr; the last line on stdout is the
# binary's path:
#
#   export KSEAL_KUBE_CONTROLLER_MANAGER="$(hack/build-kcm.sh)"
#
# The version is pinned by the wrapper module hack/tools/kube-controller-manager;
# keep it equal to hack/tools/kube-apiserver's.
set -euo pipefail

K8S_VERSION=v1.37.2

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_root="${KSEAL_CACHE:-${HOME}/.cache/kseal}"
dest="${cache_root}/kube-controller-manager/${K8S_VERSION}"
bin="${dest}/kube-controller-manager"

log() { printf 'build-kcm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ok() {
	local out
	[[ -x "$1" ]] || return 1
	out="$("$1" --version 2>/dev/null)" || return 1
	grep -qwF -- "Kubernetes ${K8S_VERSION}" <<<"${out}"
}

if ok "${bin}"; then
	log "up to date: ${bin}"
	printf '%s\n' "${bin}"
	exit 0
fi

command -v go >/dev/null 2>&1 || die "go is not on PATH"
mkdir -p "${dest}"
if command -v flock >/dev/null 2>&1; then
	exec 9>"${dest}/.lock"
	if ! flock -n 9; then
		log "another build is running; waiting for it"
		flock 9
	fi
fi
tmpdir="$(mktemp -d "${dest}/.build.XXXXXX")"
trap 'rm -rf "${tmpdir}"' EXIT

export GOWORK=off
export GOFLAGS="${GOFLAGS:+${GOFLAGS} }-mod=readonly"
export CGO_ENABLED=0

dir="${repo_root}/hack/tools/kube-controller-manager"
got="$(cd "${dir}" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
[[ "${got}" == "${K8S_VERSION}" ]] || die "hack/tools/kube-controller-manager pins k8s.io/kubernetes ${got}, but this script expects ${K8S_VERSION}"

# The same flags as kube-apiserver's build, so the two share compiled
# packages in the Go build cache.
k8s_minor="${K8S_VERSION#v1.}"
k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${k8s_minor} -X ${pkg}.gitTreeState=clean"
done

start=${SECONDS}
log "building kube-controller-manager ${K8S_VERSION} (a few minutes cold)"
(cd "${dir}" && go build -trimpath -ldflags "${ldflags}" -o "${tmpdir}/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager)
ok "${tmpdir}/kube-controller-manager" || die "built, but --version does not report Kubernetes ${K8S_VERSION}"
mv -f "${tmpdir}/kube-controller-manager" "${bin}"
log "built kube-controller-manager in $((SECONDS - start))s"
printf '%s\n' "${bin}"
