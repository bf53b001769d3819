// Package httpapi is the kseal controller's HTTP API, the one the CLI talks
// to: GET /healthz, GET /v1/cert.pem (the newest generation's certificate),
// POST /v1/verify (does every item of a SealedSecret open under its scope)
// and POST /v1/rotate (the SealedSecret sealed again to the newest
// generation). NewHandler serves it over a keys.Source; Options bounds what
// one caller may cost (per-client and global rate limits, body size, items,
// RSA operations, requests in flight), every bound checked before any
// decryption. No response contains or depends on a decrypted value.
//
// The paths and headers are in package wire, which the CLI imports without
// this package's dependencies.
package httpapi
