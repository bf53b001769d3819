package wire

// Paths of the controller's HTTP API. The CLI reaches them through the API
// server's service proxy, or directly with --controller-url.
const (
	// PathHealthz answers 200 "ok" once a key generation exists, else 503.
	PathHealthz = "/healthz"
	// PathCert serves the newest generation's certificate (cert.pem).
	PathCert = "/v1/cert.pem"
	// PathVerify takes one SealedSecret and answers 200 when every item
	// opens with the controller's keys under the object's scope, 409 with
	// the reason when one does not. It never renders spec.template.
	PathVerify = "/v1/verify"
	// PathRotate takes one SealedSecret and returns it sealed to the newest
	// generation.
	PathRotate = "/v1/rotate"
)

// Response headers of the API.
const (
	// HeaderRotated is "true" on a POST /v1/rotate response that differs
	// from the request, "false" when the object was already sealed to the
	// newest generation and is returned unchanged.
	HeaderRotated = "Kseal-Rotated"
	// HeaderReason carries the v1alpha1 Ready reason (UnknownKey,
	// ScopeMismatch, CorruptData) of a 409 response.
	HeaderReason = "Kseal-Reason"
)
