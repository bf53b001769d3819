package sealedsecret_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// TestReseal: an object already sealed to the newest generation comes back
// unchanged; one sealed to an older generation is sealed again to the newest
// in its own format (v1 stays v1, v2 stays v2) and opens with the newest
// generation alone, with the same values; one the keys cannot open is a
// typed *Error that names no value.
func TestReseal(t *testing.T) {
	newest, old := generations(t)
	both := keys.Keyring([]*keys.Generation{newest, old})
	sealTo := func(g *keys.Generation, v sealing.Version) *v1alpha1.SealedSecret {
		t.Helper()
		ss, err := sealedsecret.Seal(newSecret(), &g.Certificate.PublicKey, sealedsecret.SealOptions{Version: v})
		if err != nil {
			t.Fatalf("seal: %v", err)
		}
		return ss
	}
	tests := []struct {
		name        string
		ss          *v1alpha1.SealedSecret
		kr          *sealing.Keyring
		wantChanged bool
		wantV2      bool
		wantReason  string // set when Reseal must fail with a *sealedsecret.Error
	}{
		{name: "v2 already current", ss: sealTo(newest, sealing.V2), kr: both},
		{name: "v1 already current", ss: sealTo(newest, sealing.V1), kr: both},
		{name: "v1 to newest v1", ss: sealTo(old, sealing.V1), kr: both, wantChanged: true},
		{name: "v2 to newest v2", ss: sealTo(old, sealing.V2), kr: both, wantChanged: true, wantV2: true},
		{name: "unknown key", ss: sealTo(old, sealing.V2), kr: keyring(t), wantReason: v1alpha1.ReasonUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := maps.Clone(tt.ss.Spec.EncryptedData)
			sealed, changed, err := sealedsecret.Reseal(context.Background(), tt.ss, tt.kr, newest)
			if !maps.Equal(tt.ss.Spec.EncryptedData, before) {
				t.Fatal("Reseal changed its input")
			}
			if tt.wantReason != "" {
				var typed *sealedsecret.Error
				if !errors.As(err, &typed) || sealedsecret.Reason(err) != tt.wantReason {
					t.Fatalf("error %v (%T), want a *sealedsecret.Error with reason %s", err, err, tt.wantReason)
				}
				if strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), testUser) {
					t.Fatalf("error names a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Reseal: %v", err)
			}
			if changed != tt.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if !changed {
				if sealed != nil {
					t.Fatalf("unchanged object came back with new data: %v", sealed)
				}
				return
			}
			out := tt.ss.DeepCopy()
			out.Spec.EncryptedData = sealed
			if got := sealing.IsV2(decodeItem(t, out, "password")); got != tt.wantV2 {
				t.Fatalf("format v2 = %v, want %v", got, tt.wantV2)
			}
			res, err := sealedsecret.Unseal(out, keyring(t), sealedsecret.UnsealOptions{})
			if err != nil {
				t.Fatalf("resealed object does not open with the newest generation alone: %v", err)
			}
			if string(res.Secret.Data["user"]) != testUser || string(res.Secret.Data["password"]) != testPassword {
				t.Fatal("resealed object opens to other values")
			}
		})
	}
}
