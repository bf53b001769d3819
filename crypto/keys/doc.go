// Package keys creates and reads kseal key generations: an RSA-4096 key with
// a self-signed certificate for the v1 format, and an age hybrid post-quantum
// identity for the v2 format. The certificate carries the hybrid recipient in
// a non-critical extension, so one cert.pem is all a sealer needs for either
// format, and kubeseal can use the same file.
//
// Start with Generate for a new generation, FromSecret to read one from a
// cluster Secret (kseal's or a Bitnami sealed-secrets key), ParseCertificate
// for a sealer's cert.pem, and ParsePrivateKeys for recovery files. A Source
// gives a holder's current keys (the controller's key manager is one); a Set
// is a fixed, immutable Source over some generations.
package keys
