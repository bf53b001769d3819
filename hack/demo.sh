#!/usr/bin/env bash
# `make demo`: the offline sealing workflow, end to end, with no cluster.
# It makes a key generation (what the controller holds), seals a Secret with
# only the public certificate (what a developer does), and recovers it with the
# private key backup (disaster recovery). Everything happens in a temporary
# directory that is removed at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kseal="$root/bin/kseal"
[[ -x "$kseal" ]] || { echo "bin/kseal is missing: run make build" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "1. Make a key generation (the controller does this in the cluster)"
show "$kseal" keygen -w key-secret.yaml --cert-out cert.pem
echo "key-secret.yaml holds the private keys (never commit it); cert.pem is public."

step "2. Inspect the certificate a developer seals with"
show "$kseal" cert inspect cert.pem | cut -c1-110

step "3. A plain Secret that must not go to git"
cat > secret.yaml <<'YAML'
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
sed 's/namespace: shop/namespace: attacker/' sealed.yaml > moved.yaml
"$kseal" unseal --recovery-private-key key-secret.yaml -f moved.yaml || true

step "8. Disaster recovery: unseal offline with the backed-up key Secret"
show "$kseal" unseal --recovery-private-key key-secret.yaml -f sealed.yaml

step "Offline part done. Next: the controller on a local control plane."
