// Package cli is the kseal command line. Sealing: seal (Secrets into
// SealedSecrets, kubeseal's flags where they mean the same), cert (fetch and
// inspect the sealing certificate), validate and reencrypt (ask the
// controller's HTTP API, package httpapi, to verify or rotate SealedSecrets).
// SOPS and GitOps: sops-scope (the scope line that binds a SOPS document),
// render (build a kustomization and decrypt its SOPS resources for a sync
// engine) and krm (the same as a kustomize KRM function). Keys: keygen (a
// new key generation) and unseal (offline recovery with backed-up private
// keys).
//
// Main is the entry point; cmd/kseal only calls it. Every command reads its
// flags into an options struct and returns an error, which Main prints with a
// hint when one is known. Every read of a file, stdin or a response is
// size-limited (readLimit).
package cli
