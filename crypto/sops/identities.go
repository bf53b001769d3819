package sops

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"filippo.io/age"
)

// MaxIdentityFile bounds an identity file or variable.
const MaxIdentityFile = 1 << 20

// Prefixes of the age identities a Decryptor accepts.
const (
	prefixX25519 = "AGE-SECRET-KEY-1"
	prefixHybrid = "AGE-SECRET-KEY-PQ-1"
)

// ParseIdentities reads age identities, one per line, as age-keygen writes
// them: X25519 (AGE-SECRET-KEY-1...) and post-quantum hybrid
// (AGE-SECRET-KEY-PQ-1...). Empty lines and lines starting with # are
// skipped. Plugin, SSH and passphrase identities are refused: a Decryptor
// never runs a program or asks a question. name is used in errors, which
// give line numbers and never the line.
func ParseIdentities(name string, data []byte) ([]age.Identity, error) {
	if len(data) > MaxIdentityFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not an age identity file", name, MaxIdentityFile)
	}
	var ids []age.Identity
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 8<<10), 64<<10)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		id, err := parseIdentity(s)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s: no age identity found (expected lines starting with %s or %s)", name, prefixX25519, prefixHybrid)
	}
	return ids, nil
}

func parseIdentity(s string) (age.Identity, error) {
	upper := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(upper, prefixHybrid):
		id, err := age.ParseHybridIdentity(s)
		if err != nil {
			return nil, fmt.Errorf("malformed age post-quantum identity")
		}
		return id, nil
	case strings.HasPrefix(upper, prefixX25519):
		id, err := age.ParseX25519Identity(s)
		if err != nil {
			return nil, fmt.Errorf("malformed age identity")
		}
		return id, nil
	case strings.HasPrefix(upper, "AGE-PLUGIN-"):
		return nil, fmt.Errorf("age plugin identities are not supported")
	}
	return nil, fmt.Errorf("not an age identity (expected %s... or %s...)", prefixX25519, prefixHybrid)
}

// Recipient returns the public recipient of an identity that a Decryptor
// accepts, and false for any other identity.
func Recipient(id age.Identity) (string, bool) {
	switch id := id.(type) {
	case *age.X25519Identity:
		return id.Recipient().String(), true
	case *age.HybridIdentity:
		return id.Recipient().String(), true
	}
	return "", false
}

// ShortRecipient abbreviates a post-quantum recipient (about 2,000
// characters) to its start and end for messages; X25519 recipients are
// returned whole.
func ShortRecipient(r string) string {
	const keep = 16
	if len(r) <= 80 {
		return r
	}
	return r[:len("age1pq1")+keep] + "..." + r[len(r)-keep:]
}
