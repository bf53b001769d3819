// Package controllers holds kseal's reconcilers: the key manager (the
// cluster's key generations, a keys.Source), the SealedSecret and SopsSecret
// reconcilers that decrypt in the cluster, and the ExternalSecret,
// SecretStore and ClusterSecretStore reconcilers that fetch from external
// providers. Setup wires them and the HTTP API (package httpapi) into a
// controller-runtime manager; cmd/kseal-controller only parses flags.
package controllers
