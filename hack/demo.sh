#!/usr/bin/env bash
# `make demo`: kseal end to end on this machine, with no cluster.
#
#   1. builds bin/kseal and bin/kseal-controller, and starts building the
#      Vault dev server in the background at the lowest priority (nice 19),
#      since only the last step needs it;
#   2. the offline sealing workflow (key generation, seal with only the
#      certificate, recovery with the key backup) in a temporary directory;
#   3. builds kube-apiserver and etcd when they are not cached, then runs the
#      controller on them (hack/demo): a SealedSecret unsealed, a rollout
#      restart, a SealedSecret refused in another namespace, an ExternalSecret
#      from an AWS emulator, a SOPS-encrypted kustomize overlay, and last an
#      ExternalSecret from Vault, waiting for its build if it still runs.
#
# Each long build is announced with what it builds and how long it takes
# cold; cached builds (under $KSEAL_CACHE) are a no-op. Everything started is
# stopped at the end, the background build too when the demo stops early.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
GO=${GO:-go}
export KSEAL_DEMO_START=${KSEAL_DEMO_START:-$(date +%s)}
work="$(mktemp -d)"
vault_pid=""
cleanup() {
	if [[ -n "$vault_pid" ]] && kill -0 "$vault_pid" 2>/dev/null; then
		echo "stopping the background Vault build (it resumes where Go's cache left it next time)" >&2
		kill -TERM -- "-$vault_pid" 2>/dev/null || kill -TERM "$vault_pid" 2>/dev/null || true
		wait "$vault_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '\033[2m--- %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
elapsed() { local s=$(($(date +%s) - KSEAL_DEMO_START)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# --- Plan: what needs building. -------------------------------------------
envtest_cached=false vault_cached=false
hack/build-envtest.sh --check >/dev/null 2>&1 && envtest_cached=true
hack/build-vault.sh --check >/dev/null 2>&1 && vault_cached=true
step "make demo: what gets built"
echo "  bin/kseal, bin/kseal-controller   go build (several minutes on a cold Go cache, seconds when warm)"
if $envtest_cached; then
	echo "  kube-apiserver + etcd             cached in ${KSEAL_CACHE:-$HOME/.cache/kseal}/envtest"
else
	echo "  kube-apiserver v1.37.2 + etcd     from Go module source, once (about 8 minutes, 2.5 GiB of memory)"
fi
if $vault_cached; then
	echo "  Vault dev server                  cached in ${KSEAL_CACHE:-$HOME/.cache/kseal}/vault-v1.14.2"
else
	echo "  Vault v1.14.2 dev server          from Go module source, once, in the background at low"
	echo "                                    priority (about 8 minutes alone, 4.5 GiB); only the last step needs it"
fi

# --- Vault in the background. ----------------------------------------------
# hack/demo reads the status file: the binary's path when the build
# succeeded, FAILED when it did not.
export KSEAL_DEMO_VAULT_STATUS="$work/vault.status"
export KSEAL_DEMO_VAULT_LOG="$work/vault-build.log"
: >"$KSEAL_DEMO_VAULT_STATUS"
build_vault() {
	local path
	if path="$(nice -n 19 hack/build-vault.sh 2>"$KSEAL_DEMO_VAULT_LOG" | tail -n1)" && [[ -n "$path" ]]; then
		printf '%s\n' "$path" >"$KSEAL_DEMO_VAULT_STATUS.tmp"
	else
		echo FAILED >"$KSEAL_DEMO_VAULT_STATUS.tmp"
	fi
	mv "$KSEAL_DEMO_VAULT_STATUS.tmp" "$KSEAL_DEMO_VAULT_STATUS"
}
if command -v setsid >/dev/null 2>&1; then
	# Its own process group, so an early stop ends the whole build.
	export -f build_vault
	setsid bash -c build_vault &
else
	build_vault &
fi
vault_pid=$!
$vault_cached || note "Vault build started in the background (log: $KSEAL_DEMO_VAULT_LOG)"

# --- The CLI and the controller. -------------------------------------------
step "Build bin/kseal and bin/kseal-controller"
make --no-print-directory build
note "built ($(elapsed) since make demo started)"

# --- Offline. ----------------------------------------------------------------
kseal="$root/bin/kseal"
offline="$work/offline"
mkdir -p "$offline"
(
	cd "$offline"
	step "1. Make a key generation (the controller does this in the cluster)"
	show "$kseal" keygen -w key-secret.yaml --cert-out cert.pem
	echo "key-secret.yaml holds the private keys (never commit it); cert.pem is public."

	step "2. Inspect the certificate a developer seals with"
	show "$kseal" cert inspect cert.pem | cut -c1-110

	step "3. A plain Secret that must not go to git"
	cat >secret.yaml <<'YAML'
apiVersion: v1
kind: Secret
metadata:
  name: database
  namespace: shop
  labels:
    app: shop
type: Opaque
stringData:
  username: shop
  password: correct-horse-battery-staple
YAML
	cat secret.yaml

	step "4. Seal it (format v2: post-quantum, bound to namespace shop and name database)"
	show "$kseal" seal --cert cert.pem -f secret.yaml -w sealed.yaml
	cut -c1-100 sealed.yaml
	if grep -q correct-horse sealed.yaml; then echo "plaintext found in sealed.yaml" >&2; exit 1; fi
	echo "(values shortened for display; sealed.yaml is safe to commit)"

	step "5. Seal for a Bitnami sealed-secrets controller instead (format v1)"
	show "$kseal" seal --cert cert.pem --format-version v1 -f secret.yaml -w sealed-v1.yaml
	head -4 sealed-v1.yaml

	step "6. Add an item to the committed file without the other values"
	printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  api-token: tok-123\n' |
		"$kseal" seal --cert cert.pem --merge-into sealed.yaml
	sed -n "/encryptedData:/,/template:/p" sealed.yaml | cut -c1-40

	step "7. A strict SealedSecret copied to another namespace does not open"
	sed 's/namespace: shop/namespace: attacker/' sealed.yaml >moved.yaml
	"$kseal" unseal --recovery-private-key key-secret.yaml -f moved.yaml || true

	step "8. Disaster recovery: unseal offline with the backed-up key Secret"
	show "$kseal" unseal --recovery-private-key key-secret.yaml -f sealed.yaml
)

# --- The cluster part. -------------------------------------------------------
step "Offline part done. Next: the controller on a local control plane."
note "compiling the demo program into bin/demo (hack/demo; shares most of its code with the controller)"
"$GO" build -o bin/demo ./hack/demo
if ! $envtest_cached; then
	note "building kube-apiserver and etcd from module source: about 8 minutes, once ($(elapsed) so far)"
fi
KUBEBUILDER_ASSETS="$(hack/build-envtest.sh)"
export KUBEBUILDER_ASSETS
bin/demo
