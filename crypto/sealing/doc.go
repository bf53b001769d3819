// Package sealing encrypts and decrypts single Secret values in kseal's two
// formats, and opens values with a Keyring that explains every failure.
//
// Start with PublicKey.Seal to seal a value and Keyring.Open to open one.
//
// Format v1 is byte-compatible with Bitnami sealed-secrets: a random AES-256
// session key encrypts the value with AES-256-GCM (zero nonce, no additional
// data: the key is used once), and RSA-OAEP (SHA-256) wraps the session key
// under the scope label. Bytes: uint16 big-endian length of the RSA
// ciphertext, the RSA ciphertext, then the GCM ciphertext.
//
// Format v2 is kseal's own: the value, prefixed by the scope label and a zero
// byte, is encrypted with age to a hybrid post-quantum recipient (ML-KEM-768 +
// X25519). Bytes: "KSL2", an 8-byte key id (the first bytes of SHA-256 of the
// recipient string), then the binary age file. The key id selects the key
// directly, and the embedded label is compared with the expected one on open.
//
// Both formats are stored base64 (std) in a SealedSecret; this package works
// on the decoded bytes. No error from this package contains plaintext.
package sealing

// Version identifies a sealed-value format.
type Version int

const (
	// V1 is the Bitnami sealed-secrets format (RSA-OAEP + AES-256-GCM).
	V1 Version = 1
	// V2 is the kseal format (age hybrid ML-KEM-768 + X25519, bound label).
	V2 Version = 2
)

// String returns "v1" or "v2".
func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	}
	return "unknown"
}

// MaxValueSize is the largest plaintext value that can be sealed or opened:
// 1 MiB, the most a Kubernetes Secret can hold in total.
const MaxValueSize = 1 << 20

// maxCiphertextSize bounds the input of Open: the largest value plus room for
// either format's overhead.
const maxCiphertextSize = MaxValueSize + 8<<10
