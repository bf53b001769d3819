package sops_test

import (
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/crypto/sops"
)

func TestParseIdentities(t *testing.T) {
	x, pq := newX25519(t), newHybrid(t)
	file := "# created: today\n# public key: " + x.recipient + "\n" + x.secret + "\n\n  " + pq.secret + "  \n"
	ids, err := sops.ParseIdentities("keys.txt", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("got %d identities, want 2", len(ids))
	}
	for i, want := range []string{x.recipient, pq.recipient} {
		if r, ok := sops.Recipient(ids[i]); !ok || r != want {
			t.Errorf("identity %d: recipient %q, want %q", i, r, want)
		}
	}

	bad := []struct {
		name, data, want string
	}{
		{"empty", "# nothing\n", "no age identity found"},
		{"garbage", x.secret + "\nsecret-garbage-line\n", "keys.txt: line 2: not an age identity"},
		{"truncated", x.secret[:40] + "\n", "line 1: malformed age identity"},
		{"truncated pq", pq.secret[:50] + "\n", "line 1: malformed age post-quantum identity"},
		{"plugin", "AGE-PLUGIN-YUBIKEY-1QQQQ\n", "plugin identities are not supported"},
		{"ssh", "-----BEGIN OPENSSH PRIVATE KEY-----\n", "not an age identity"},
	}
	for _, c := range bad {
		_, err := sops.ParseIdentities("keys.txt", []byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "garbage-line") || strings.Contains(err.Error(), x.secret[:40]) {
			t.Errorf("%s: the error quotes the input: %v", c.name, err)
		}
	}
}

func TestShortRecipient(t *testing.T) {
	x, pq := newX25519(t), newHybrid(t)
	if got := sops.ShortRecipient(x.recipient); got != x.recipient {
		t.Errorf("X25519 recipient shortened: %q", got)
	}
	got := sops.ShortRecipient(pq.recipient)
	if len(got) > 60 || !strings.HasPrefix(got, "age1pq1") || !strings.HasSuffix(pq.recipient, got[len(got)-16:]) {
		t.Errorf("ShortRecipient(pq) = %q", got)
	}
}
