// Package sops decrypts SOPS documents with age identities that the caller
// gives explicitly.
//
// Start with ParseIdentities to read age identities (X25519
// AGE-SECRET-KEY-1... and post-quantum hybrid AGE-SECRET-KEY-PQ-1...), then
// New to make a Decryptor, then Decryptor.Decrypt for each document:
//
//	ids, err := sops.ParseIdentities("key.txt", keyFile)
//	d, err := sops.New(ids, sops.Options{})
//	plain, err := d.Decrypt("secret.enc.yaml", data, sops.FormatYAML)
//
// IsEncrypted and DetectFormat tell SOPS documents from other input, so
// callers pass everything else through unchanged. Package manifest builds on
// this to decrypt Kubernetes resources (whole SOPS documents and Secret
// values) as kustomize or a KRM function hands them over; package sopstest
// encrypts fixtures for tests.
//
// The Decryptor never looks at the environment or the home directory for
// keys (unlike the sops command and its decrypt package, which read
// SOPS_AGE_KEY and ~/.config/sops/age/keys.txt) and decrypts with age only:
// documents encrypted to PGP or cloud KMS keys are refused. It bounds the
// size of a document, verifies the document's MAC unless told not to, and
// keeps decrypted values out of every error it returns. A wrong key is
// reported as a *KeyError naming the recipients the document was encrypted
// to and those of the identities held.
//
// The Decryptor is kseal's own implementation of the SOPS file format, and
// this package does not import the SOPS library: the controller links none
// of the cloud KMS SDKs that the library's key service brings. It reads the
// YAML, JSON, dotenv, INI and binary stores as sops does (tree.go walks the
// values in the order the MAC covers them; metadata.go and flat.go read the
// metadata; stores.go and flat.go parse and write the formats; datakey.go
// opens age stanzas and combines Shamir parts), and its output is compared
// byte for byte with the library's in the tests. Package rekey, which
// re-encrypts files, and package sopstest, which encrypts fixtures, use the
// library.
package sops
