// Package controllers holds kseal's reconcilers and what they share.
//
//   - reconcile.go: the skeleton every reconciler runs (fetch, defer one
//     status patch, steps), the one error type (stepError: Ready reason and
//     how it heals) and the retry of not-Ready objects after a key change.
//   - conditions.go: the one status helper (Ready plus kstatus's Stalled or
//     Reconciling).
//   - secretpolicy.go and secretwriter.go: the one rule set (decide) and
//     writer (writeTargetSecret) for the Secret of every kind: SealedSecret,
//     SopsSecret and ExternalSecret.
//   - keymanager.go: the cluster's key generations, a keys.Source, loaded on
//     every replica.
//   - sealedsecret_controller.go, sopssecret_controller.go: decryption in the
//     cluster.
//   - externalsecret_*.go, secretstore_controller.go, provider_*.go,
//     providercache.go, storepolicy.go: fetching from external providers
//     under the store policy.
//   - metrics.go: Prometheus metrics.
//   - setup.go: Setup wires them and the HTTP API (package httpapi) into a
//     controller-runtime manager; cmd/kseal-controller only parses flags.
package controllers
