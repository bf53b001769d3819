// Package sealedsecret turns a Secret into a SealedSecret and back. It is the
// object-level layer over package sealing, shared by the kseal CLI and the
// controller: the scope comes from the object's annotations, every item is
// sealed under the same label, and unsealing reports a typed error per item.
//
// Start with Seal and Unseal. Reseal seals an object's items again to the
// newest key generation (the controller's POST /v1/rotate); OpenItems and
// OpenCost are the bounded opening both build on. DecodeSecret and
// DecodeSealedSecret read the manifests users give the CLI.
package sealedsecret

// Kubernetes API versions of the SealedSecret kinds kseal reads and writes.
const (
	// APIVersion is kseal's SealedSecret API version.
	APIVersion = "kseal.dev/v1alpha1"
	// BitnamiAPIVersion is sealed-secrets' SealedSecret API version; v1
	// output uses it so that a sealed-secrets controller accepts it.
	BitnamiAPIVersion = "bitnami.com/v1alpha1"
)
